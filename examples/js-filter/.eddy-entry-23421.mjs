import { log as hostLog } from 'eddy:plugin/log@0.1.0';
import { bindHostLog } from "file:///work/main/sdk/js/src/log.js";
bindHostLog((level, message) => hostLog(level, message));
export * from "./app.js";
