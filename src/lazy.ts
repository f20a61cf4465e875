// Builds a value on first use, so start-up pays only for what a command needs (e.g. compiled JSON Schemas).

export function lazy<T>(make: () => T): () => T {
  let made = false;
  let value: T;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value;
  };
}
