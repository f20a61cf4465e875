// The page: who is signed in, the navigation, and the view the address names.

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { AccessContext } from './access';
import { ApiError, getJson } from './api';
import { href, navigate, useLocation, type Route } from './route';
import { forgetToken, savedToken } from './session';
import type { Access } from './types';
import { ErrorNote, Loading } from './parts/common';
import { BackupsPage } from './views/BackupsPage';
import { ChartPage } from './views/ChartPage';
import { InstancePage } from './views/InstancePage';
import { OverviewPage } from './views/OverviewPage';
import { RequestPage } from './views/RequestPage';
import { RequestsPage } from './views/RequestsPage';
import { SignIn } from './views/SignIn';

export function App() {
  const { route, query } = useLocation();
  const [access, setAccess] = useState<Access>();
  const [error, setError] = useState<Error>();
  const [signedIn, setSignedIn] = useState(0);

  useEffect(() => {
    getJson<Access>('/access').then(setAccess, (reason: Error) => {
      // A token kept from before the server's auth file changed: forget it and ask again as nobody.
      if (reason instanceof ApiError && reason.status === 401 && savedToken()) {
        forgetToken();
        setSignedIn((count) => count + 1);
      } else setError(reason);
    });
  }, [signedIn]);

  useEffect(() => {
    document.title = `${titleOf(route)} · chartd`;
  }, [route]);

  if (error) return <Shell><ErrorNote error={error} what="what this browser may do" /></Shell>;
  if (!access) return <Shell><Loading what="chartd" /></Shell>;
  const onSignedIn = (): void => {
    setSignedIn((count) => count + 1);
    // From the sign-in view, back to where it was asked for; a view that asked for a token itself now shows.
    if (route.view === 'signin') navigate(safeNext(query.get('next')), true);
  };
  if (route.view === 'signin' || !access.read) {
    return <Shell access={access}><SignIn access={access} onSignedIn={onSignedIn} /></Shell>;
  }
  const signOut = (): void => {
    forgetToken();
    setAccess(undefined);
    setSignedIn((count) => count + 1);
  };
  return (
    <AccessContext.Provider value={access}>
      <Shell access={access} onSignOut={signOut}>
        <View route={route} query={query} />
      </Shell>
    </AccessContext.Provider>
  );
}

function View({ route, query }: { route: Route; query: URLSearchParams }) {
  switch (route.view) {
    case 'overview':
      return <OverviewPage />;
    case 'chart':
      return <ChartPage chart={route.chart} query={query} />;
    case 'instance':
      return <InstancePage chart={route.chart} id={route.id} />;
    case 'requests':
      return <RequestsPage query={query} />;
    case 'request':
      return <RequestPage id={route.id} />;
    case 'backups':
      return <BackupsPage query={query} />;
    default:
      return <section><h1>Not found</h1><p>This dashboard has no such view. <a href={href()}>Go to the overview</a>.</p></section>;
  }
}

function Shell({ access, onSignOut, children }: { access?: Access; onSignOut?: () => void; children: ComponentChildren }) {
  const backups = access?.read && access.services.includes('backup-controller');
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href={href()}>chartd</a>
        <nav aria-label="Main">
          {access?.read && <a href={href()}>Overview</a>}
          {backups && <a href={href('backup-requests')}>Backup requests</a>}
          {backups && <a href={href('backups')}>Backups</a>}
        </nav>
        {access && <Who access={access} onSignOut={onSignOut} />}
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
    </>
  );
}

function Who({ access, onSignOut }: { access: Access; onSignOut?: (() => void) | undefined }) {
  if (access.authentication === 'off') return <p class="who">No sign-in needed here (loopback)</p>;
  if (!access.token) {
    return <p class="who">Not signed in{access.read && <> · <a href={`${href('sign-in')}?next=${encodeURIComponent(location.pathname + location.search)}`}>Sign in</a></>}</p>;
  }
  return (
    <p class="who">
      Signed in as <strong>{access.token}</strong> <span class="scopes">({access.scopes.join(', ') || 'no scopes'})</span>
      {onSignOut && <button type="button" class="link" onClick={onSignOut}>Sign out</button>}
    </p>
  );
}

/** Where to go after signing in: a dashboard path only, never another site. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/ui/') && !next.startsWith('//') ? next : href();
}

function titleOf(route: Route): string {
  switch (route.view) {
    case 'chart':
      return route.chart;
    case 'instance':
      return `${route.chart}/${route.id}`;
    case 'request':
      return `backup request ${route.id}`;
    case 'requests':
      return 'Backup requests';
    case 'backups':
      return 'Backups';
    case 'signin':
      return 'Sign in';
    default:
      return 'Overview';
  }
}
