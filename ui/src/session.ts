// The bearer token of this browser tab: kept in sessionStorage, so it goes when the tab closes and is never shared.

const KEY = 'chartd.token';

export function savedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
