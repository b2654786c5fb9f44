// @fanoutd/publish: publish events to fanoutd from Node, over its Unix
// socket or its TCP API. No dependencies: node:http, node:crypto.
export { Publisher } from './publisher.js';
export { PublishStream } from './stream.js';
export { mintToken } from './token.js';
export {
  FanoutError, ConnectionError, TimeoutError, ApiError, InvalidEventsError, AuthError, PayloadTooLargeError,
  UnavailableError,
} from './errors.js';
