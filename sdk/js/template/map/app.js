// __NAME__: a map. Each event's payload in, a new payload out.
import { exportMap } from '@eddy/plugin-sdk';

/** Trims white space around each event. */
export function trim(event) {
  return { payload: event.text().trim(), timestamp: event.timestamp };
}

export const transformer = exportMap(trim, { name: '__NAME__', version: '0.1.0' });
