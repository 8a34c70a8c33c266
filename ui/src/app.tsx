import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiKeysScreen } from './api-keys-screen.js';
import { WebhooksScreen } from './webhooks-screen.js';
import { AuditScreen } from './audit-screen.js';
import { CofferApi, type Credentials } from './coffer-api.js';
import { describeError } from './error-words.js';
import { hrefOf, onLinkClick, type Route, useRoute } from './router.js';
import { isUnauthorized, type Session, SessionContext } from './session-context.js';
import { forgetSession, keepSession, restoreSession } from './session-storage.js';
import { SignInScreen } from './sign-in-screen.js';
import { StoreScreen } from './store-screen.js';
import { StoresScreen } from './stores-screen.js';

const TITLES: Record<Route['screen'], string> = {
  stores: 'Stores',
  store: 'Store',
  keys: 'API keys',
  webhooks: 'Webhooks',
  audit: 'Audit trail',
  'not-found': 'Not found',
};

export function App() {
  const [credentials, setCredentials] = useState<Credentials | null>(() => restoreSession());
  const [signInNotice, setSignInNotice] = useState<string | null>(null);
  const route = useRoute();

  const signOut = useCallback((notice: string) => {
    forgetSession();
    setCredentials(null);
    setSignInNotice(notice);
  }, []);

  const session = useMemo<Session | null>(() => {
    if (credentials === null) return null;
    return {
      api: new CofferApi(credentials),
      fail: (error: unknown) => {
        const words = describeError(error);
        // Deferred: screens may ask for words while rendering; signing out re-renders the app.
        if (isUnauthorized(error)) queueMicrotask(() => signOut(`You were signed out. ${words}`));
        return words;
      },
    };
  }, [credentials, signOut]);

  if (session === null || credentials === null) {
    return (
      <SignInScreen
        notice={signInNotice}
        onSignedIn={(c, inThisTab) => {
          keepSession(c, inThisTab);
          setSignInNotice(null);
          setCredentials(c);
        }}
      />
    );
  }

  return (
    <SessionContext.Provider value={session}>
      <Shell route={route} tenant={credentials.tenant} onSignOut={() => signOut('You are signed out.')} />
    </SessionContext.Provider>
  );
}

function NavLink({ to, current, children }: { to: Route; current: boolean; children: string }) {
  return (
    <a href={hrefOf(to)} onClick={onLinkClick} aria-current={current ? 'page' : undefined}>
      {children}
    </a>
  );
}

function Shell({ route, tenant, onSignOut }: { route: Route; tenant: string; onSignOut: () => void }) {
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    document.title = `${TITLES[route.screen]} · Coffer console`;
    // After a client-side navigation, start screen readers and keyboards at the new content.
    if (first.current) first.current = false;
    else mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route]);
  const screen = route.screen;
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <div class="brand">
          Coffer <span class="brand-sub">console</span>
        </div>
        <nav aria-label="Main" class="mainnav">
          <NavLink to={{ screen: 'stores' }} current={screen === 'stores' || screen === 'store'}>
            Stores
          </NavLink>
          <NavLink to={{ screen: 'keys' }} current={screen === 'keys'}>
            API keys
          </NavLink>
          <NavLink to={{ screen: 'webhooks' }} current={screen === 'webhooks'}>
            Webhooks
          </NavLink>
          <NavLink to={{ screen: 'audit' }} current={screen === 'audit'}>
            Audit trail
          </NavLink>
        </nav>
        <div class="account">
          <span class="tenant">
            Tenant <strong>{tenant}</strong>
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {route.screen === 'stores' && <StoresScreen />}
        {route.screen === 'store' && <StoreScreen key={route.storeId} storeId={route.storeId} />}
        {route.screen === 'keys' && <ApiKeysScreen />}
        {route.screen === 'webhooks' && <WebhooksScreen />}
        {route.screen === 'audit' && <AuditScreen />}
        {route.screen === 'not-found' && (
          <>
            <h1 tabIndex={-1}>Not found</h1>
            <p>
              There is no such page in the console.{' '}
              <a href={hrefOf({ screen: 'stores' })} onClick={onLinkClick}>
                Go to the stores
              </a>
              .
            </p>
          </>
        )}
      </main>
    </>
  );
}
