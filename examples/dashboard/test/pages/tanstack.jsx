// TanStack Query's core for the browser test's pages, bundled by esbuild (.jsx: node --test runs every .js under test/).
export { QueryClient, QueryObserver } from '@tanstack/query-core';
