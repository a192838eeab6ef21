// providers.js - Providers (being built).
import { h } from '../ui.js';

export async function render(root, ctx) {
  root.append(h('h1', { id: 'page-title' }, 'Providers'));
}
