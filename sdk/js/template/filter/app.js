// __NAME__: a filter. Keeps or drops each event.
import { exportFilter } from '@eddy/plugin-sdk';

/** Drops empty events. */
export function nonEmpty(event) {
  return event.text().trim().length > 0;
}

export const transformer = exportFilter(nonEmpty, { name: '__NAME__', version: '0.1.0' });
