// How the authoring commands print values: strings bare, lists in brackets, the rest as JSON.

export function formatValue(value: unknown): string {
  if (value === undefined) return '(nothing)';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item))).join(', ')}]`;
  return JSON.stringify(value);
}
