/** Logging to the host: the one import a plugin has. */

/** Severity of a log line (the WIT `log.level` enum). */
export const Level = Object.freeze({
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
});

let sink = (level, message) => {
  // Natively (node --test) lines go to stderr; inside the component `bindHostLog` replaces this.
  process.stderr.write(`[${level}] ${message}\n`);
};

/** Writes a line to the host's log. */
export function log(level, message) {
  sink(level, String(message));
}

/**
 * Sends `log` (and `console.*`) to the host's `eddy:plugin/log` import. Called by the code the
 * build step generates; the component has no WASI standard streams, so console output would
 * otherwise be lost.
 */
export function bindHostLog(hostLog) {
  sink = hostLog;
  const text = (args) => args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' ');
  globalThis.console = {
    ...globalThis.console,
    log: (...a) => hostLog('info', text(a)),
    info: (...a) => hostLog('info', text(a)),
    debug: (...a) => hostLog('debug', text(a)),
    warn: (...a) => hostLog('warn', text(a)),
    error: (...a) => hostLog('error', text(a)),
  };
}

function safeJson(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
