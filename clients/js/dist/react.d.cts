// Types of @fanoutd/client/react. React's own types come from @types/react.
import type { ReactNode } from 'react';
import type { FanoutClient, FanoutEvent, Position, QueryClientLike, ServerError, SubscribedInfo } from './index.cjs';

export interface FanoutProviderProps {
  /** Connected while the provider is mounted, closed after it unmounts. */
  client: FanoutClient;
  /** For useChannelQueries: a TanStack QueryClient (or anything with invalidateQueries). */
  queryClient?: QueryClientLike;
  children?: ReactNode;
}

export function FanoutProvider(props: FanoutProviderProps): ReactNode;

export function useFanout(): { client: FanoutClient; queryClient?: QueryClientLike };

export interface UseChannelOptions {
  since?: Position;
  onSubscribed?: (info: SubscribedInfo) => void;
  onError?: (error: ServerError) => void;
}

/** onEvent(event) for every event of channel while mounted (no subscription when channel is empty). */
export function useChannel<P = unknown>(channel: string | null | undefined, onEvent: (event: FanoutEvent<P>) => void,
  options?: UseChannelOptions): void;

export interface UseChannelQueriesOptions {
  on?: Record<string, (event: FanoutEvent) => readonly (readonly unknown[])[]>;
  since?: Position;
}

/** The channel's events and gaps invalidate queryKeys in the provider's QueryClient while mounted. */
export function useChannelQueries(channel: string | null | undefined, queryKeys: readonly (readonly unknown[])[],
  options?: UseChannelQueriesOptions): void;
