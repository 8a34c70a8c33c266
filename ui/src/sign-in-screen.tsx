import { useState } from 'preact/hooks';
import { ApiError, CofferApi, type Credentials } from './coffer-api.js';
import { describeError } from './error-words.js';
import { ErrorNotice, StatusNotice } from './notices.js';

interface Props {
  readonly notice: string | null;
  readonly onSignedIn: (credentials: Credentials, inThisTab: boolean) => void;
}

/** Tenant id and token; the token is checked with one harmless read before the console opens. */
export function SignInScreen({ notice, onSignedIn }: Props) {
  const [tenant, setTenant] = useState('default');
  const [token, setToken] = useState('');
  const [inThisTab, setInThisTab] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const credentials = { tenant: tenant.trim(), token: token.trim() };
    if (credentials.tenant === '' || credentials.token === '') {
      setError('Enter both the tenant id and the token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await new CofferApi(credentials).listStores({ limit: 1 });
    } catch (e) {
      // A valid key without secrets:read is still a valid key (say, an API-keys admin): let it in.
      if (!(e instanceof ApiError && e.status === 403 && e.code === 'missing_permission')) {
        setBusy(false);
        setError(describeError(e));
        return;
      }
    }
    setBusy(false);
    setToken('');
    onSignedIn(credentials, inThisTab);
  };

  return (
    <main id="main" class="signin">
      <h1>Sign in to Coffer</h1>
      {notice !== null && <StatusNotice>{notice}</StatusNotice>}
      <form onSubmit={submit} class="card stack" aria-describedby="signin-help">
        <p id="signin-help" class="help">
          Use an API key token of your tenant (the first start of Coffer prints one for tenant{' '}
          <code>default</code>). The token stays in this tab&apos;s memory and goes only to this server.
        </p>
        <label for="signin-tenant">Tenant id</label>
        <input
          id="signin-tenant"
          name="tenant"
          value={tenant}
          onInput={(e) => setTenant(e.currentTarget.value)}
          autoComplete="username"
          autoCapitalize="off"
          spellcheck={false}
          required
        />
        <label for="signin-token">Token</label>
        <input
          id="signin-token"
          name="token"
          type="password"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          autoComplete="off"
          spellcheck={false}
          required
        />
        <label class="check">
          <input
            type="checkbox"
            checked={inThisTab}
            onChange={(e) => setInThisTab(e.currentTarget.checked)}
          />{' '}
          Stay signed in when this tab reloads (kept in this tab&apos;s session storage until it closes)
        </label>
        <ErrorNotice message={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
