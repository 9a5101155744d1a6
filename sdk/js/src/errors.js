/** Why a plugin refused a call: the WIT `plugin-error` variant. */

export const INVALID_CONFIG = 'invalid-config';
export const INVALID_STATE = 'invalid-state';
export const INVALID_INPUT = 'invalid-input';
export const FAILED = 'failed';

/**
 * An error the host sees as a `plugin-error` of `kind`. Plugin code may throw anything; the
 * adapter reports it as the kind of the call (`invalid-config` from configuration,
 * `invalid-input` from processing a batch, `invalid-state` from restoring).
 */
export class PluginError extends Error {
  constructor(message, kind = FAILED) {
    super(String(message));
    this.kind = kind;
  }

  /** The WIT variant value, as componentize-js expects a thrown `result` error. */
  get payload() {
    return { tag: this.kind, val: this.message };
  }
}

/** `error` as a `PluginError` of `kind` unless it already is one. */
export function asPluginError(error, kind) {
  if (error instanceof PluginError) return error;
  const message = error instanceof Error ? error.message || error.name : String(error);
  return new PluginError(message, kind);
}

/** The configuration JSON as data: an empty string or `null` reads as `{}`. */
export function parseConfig(text) {
  const trimmed = (text ?? '').trim();
  if (trimmed === '' || trimmed === 'null') return {};
  try {
    return JSON.parse(trimmed);
  } catch (e) {
    throw new PluginError(`configuration is not JSON: ${e.message}`, INVALID_CONFIG);
  }
}
