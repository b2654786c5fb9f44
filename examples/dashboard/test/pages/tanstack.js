// TanStack Query's core for the browser test's pages, bundled by esbuild.
export { QueryClient, QueryObserver } from '@tanstack/query-core';
