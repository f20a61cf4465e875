// Starts the dashboard in the page chartd serves at /ui/.

import { render } from 'preact';
import { App } from './App';
import { followLink } from './route';

const root = document.getElementById('app')!;
// The page's own "Loading…" goes; Preact renders beside what it did not make.
root.replaceChildren();
document.addEventListener('click', followLink);
render(<App />, root);
