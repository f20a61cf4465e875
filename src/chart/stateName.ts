// What a state may be called where StateService allowed any name: its dialect's charts, and the states requests ask about.

/**
 * Room for any name a person would give a state, and short enough that a 200 answer, whose body is the name,
 * never carries a Content-Length of 406 for `grep 406` to find.
 */
export const MAX_STATE_NAME_BYTES = 255;

/** Printable ASCII within the limit: nearly every name, answered with one test on the request path. */
const PLAIN = /^[\x20-\x7e]{1,255}$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `name` cannot name a state, or undefined when it can: 1-255 bytes of UTF-8, no control characters. */
export function stateNameProblem(name: string): string | undefined {
  if (PLAIN.test(name)) return undefined;
  if (name === '') return 'is empty';
  // A line break or tab would end up raw in log lines and break a header that carries the name.
  if (CONTROL.test(name)) return 'holds a control character (a tab, a line break, …); state names are printable text';
  if (LONE_SURROGATE.test(name)) return 'is not valid Unicode text (it holds half of a surrogate pair)';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_STATE_NAME_BYTES) return `is ${bytes} bytes long in UTF-8; state names take at most ${MAX_STATE_NAME_BYTES}`;
  return undefined;
}
