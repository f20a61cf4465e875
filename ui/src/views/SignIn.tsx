// Sign-in with a token: checked against /access, then kept for this tab only.

import { useState } from 'preact/hooks';
import { ApiError, request } from '../api';
import { saveToken } from '../session';
import type { Access } from '../types';

export function SignIn({ access, onSignedIn }: { access: Access; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);

  if (access.authentication === 'off') {
    return <section><h1>Sign in</h1><p>This chartd asks for no token: it listens on loopback only, and anyone here may do anything.</p></section>;
  }

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const value = token.trim();
    if (!value) return setProblem('Paste a token first.');
    setBusy(true);
    try {
      const seen = (await (await request('/access', { token: value })).json()) as Access;
      if (!seen.token) throw new Error('chartd did not take the token');
      saveToken(value);
      onSignedIn();
    } catch (error) {
      setProblem(error instanceof ApiError && error.status === 401 ? 'chartd does not know this token. Check that it was copied whole.' : (error as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="signin">
      <h1>Sign in</h1>
      <p>
        {access.read ? 'Anyone may look here; a token lets you check in and send events, as far as its scopes allow.' : 'This chartd needs a token to show anything.'}
        {' '}The token stays in this browser tab only and is forgotten when the tab closes.
      </p>
      <form onSubmit={submit}>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} value={token}
          onInput={(event) => setToken((event.target as HTMLInputElement).value)} aria-describedby={problem ? 'token-problem' : undefined} />
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
      {problem && <p id="token-problem" class="note bad" role="alert">{problem}</p>}
    </section>
  );
}
