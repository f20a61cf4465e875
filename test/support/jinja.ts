// The slice of Jinja the Ansible recipe uses: names, attributes, literals, lists, ==, !=, in, not in, and/or/not,
// and the `default` filter. Undefined values raise, as Ansible's conditionals do, unless defaulted.

export type Scope = (name: string) => unknown;

const UNDEFINED = Symbol('undefined');

/** Evaluates one expression, e.g. `turn.status == 200 or turn.x_chartd_state | default('') in off_course`. */
export function evaluateExpression(source: string, scope: Scope): unknown {
  const parser = new Parser(tokenize(source), source, scope);
  const value = parser.expression();
  parser.end();
  return defined(value(), source);
}

/** Replaces every `{{ expression }}` in `text`. */
export function renderTemplate(text: string, scope: Scope): string {
  return text.replace(/\{\{(.*?)\}\}/g, (_, inner: string) => String(evaluateExpression(inner, scope)));
}

/** A compiled (sub)expression; evaluated only when needed, so `or` and `and` short-circuit as in Jinja. */
type Thunk = () => unknown;

type Token = { readonly kind: 'number' | 'string' | 'name' | 'op'; readonly value: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s*(?:(\d+(?:\.\d+)?)|'([^']*)'|"([^"]*)"|([A-Za-z_]\w*)|(==|!=|<=|>=|[<>.|,()[\]]))/y;
  let index = 0;
  while (index < source.length) {
    if (/^\s*$/.test(source.slice(index))) break;
    pattern.lastIndex = index;
    const match = pattern.exec(source);
    if (!match) throw new Error(`cannot read the expression at "${source.slice(index)}" in: ${source}`);
    index = pattern.lastIndex;
    if (match[1] !== undefined) tokens.push({ kind: 'number', value: match[1] });
    else if (match[2] !== undefined) tokens.push({ kind: 'string', value: match[2] });
    else if (match[3] !== undefined) tokens.push({ kind: 'string', value: match[3] });
    else if (match[4] !== undefined) tokens.push({ kind: 'name', value: match[4] });
    else tokens.push({ kind: 'op', value: match[5]! });
  }
  return tokens;
}

class Parser {
  private position = 0;

  constructor(private readonly tokens: Token[], private readonly source: string, private readonly scope: Scope) {}

  expression(): Thunk {
    let left = this.and();
    while (this.accept('name', 'or')) {
      const [a, b] = [left, this.and()];
      left = () => truthy(a(), this.source) || truthy(b(), this.source);
    }
    return left;
  }

  end(): void {
    if (this.position < this.tokens.length) throw new Error(`unexpected "${this.tokens[this.position]!.value}" in: ${this.source}`);
  }

  private and(): Thunk {
    let left = this.not();
    while (this.accept('name', 'and')) {
      const [a, b] = [left, this.not()];
      left = () => truthy(a(), this.source) && truthy(b(), this.source);
    }
    return left;
  }

  private not(): Thunk {
    if (this.accept('name', 'not')) {
      const operand = this.not();
      return () => !truthy(operand(), this.source);
    }
    return this.comparison();
  }

  private comparison(): Thunk {
    const left = this.filtered();
    const negated = this.peek('name', 'not') && this.tokens[this.position + 1]?.value === 'in';
    if (negated) this.position += 1;
    if (this.accept('name', 'in')) {
      const right = this.filtered();
      return () => {
        const list = defined(right(), this.source);
        if (!Array.isArray(list) && typeof list !== 'string') throw new Error(`"in" needs a list or a string in: ${this.source}`);
        const found = (list as unknown[]).includes(defined(left(), this.source) as never);
        return negated ? !found : found;
      };
    }
    for (const op of ['==', '!=', '<=', '>=', '<', '>']) {
      if (!this.accept('op', op)) continue;
      const right = this.filtered();
      return () => {
        const [a, b] = [defined(left(), this.source), defined(right(), this.source)] as [number, number];
        switch (op) {
          case '==': return a === b;
          case '!=': return a !== b;
          case '<=': return a <= b;
          case '>=': return a >= b;
          case '<': return a < b;
          default: return a > b;
        }
      };
    }
    return left;
  }

  private filtered(): Thunk {
    let value = this.primary();
    while (this.accept('op', '|')) {
      const name = this.take('name').value;
      const args: Thunk[] = [];
      if (this.accept('op', '(')) {
        while (!this.accept('op', ')')) {
          args.push(this.expression());
          this.accept('op', ',');
        }
      }
      if (name !== 'default') throw new Error(`filter ${name} is not supported in: ${this.source}`);
      const [input, fallback] = [value, args[0] ?? (() => '')];
      value = () => {
        const current = input();
        return current === UNDEFINED ? fallback() : current;
      };
    }
    return value;
  }

  private primary(): Thunk {
    const token = this.tokens[this.position++];
    if (!token) throw new Error(`expression ends too soon: ${this.source}`);
    if (token.kind === 'number') return () => Number(token.value);
    if (token.kind === 'string') return () => token.value;
    if (token.kind === 'op' && token.value === '(') {
      const value = this.expression();
      this.take('op', ')');
      return value;
    }
    if (token.kind === 'op' && token.value === '[') {
      const items: Thunk[] = [];
      while (!this.accept('op', ']')) {
        items.push(this.expression());
        this.accept('op', ',');
      }
      return () => items.map((item) => defined(item(), this.source));
    }
    if (token.kind !== 'name') throw new Error(`unexpected "${token.value}" in: ${this.source}`);
    if (['true', 'True'].includes(token.value)) return () => true;
    if (['false', 'False'].includes(token.value)) return () => false;
    const path: string[] = [];
    while (this.accept('op', '.')) path.push(this.take('name').value);
    return () => {
      let value = this.scope(token.value);
      for (const key of path) {
        value = value !== null && typeof value === 'object' && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
      }
      return value === undefined ? UNDEFINED : value;
    };
  }

  private peek(kind: Token['kind'], value?: string): boolean {
    const token = this.tokens[this.position];
    return token !== undefined && token.kind === kind && (value === undefined || token.value === value);
  }

  private accept(kind: Token['kind'], value?: string): boolean {
    if (!this.peek(kind, value)) return false;
    this.position += 1;
    return true;
  }

  private take(kind: Token['kind'], value?: string): Token {
    if (!this.peek(kind, value)) throw new Error(`expected ${value ?? kind} in: ${this.source}`);
    return this.tokens[this.position++]!;
  }
}

function defined(value: unknown, source: string): unknown {
  if (value === UNDEFINED) throw new Error(`an undefined value is used in: ${source} (Ansible would fail the task)`);
  return value;
}

function truthy(value: unknown, source: string): boolean {
  const known = defined(value, source);
  return Array.isArray(known) ? known.length > 0 : Boolean(known);
}
