// Globals the bundle reads or writes, and the stylesheets it imports for their side effect.

/** Set by browser tests before the page loads to turn on `__iiiLive`. */
declare var __iiiLiveTestHooks: boolean | undefined;
/** The live views, for browser tests (only when `__iiiLiveTestHooks` is set). */
declare var __iiiLive: import("./test-hooks.js").TestEntry[] | undefined;

declare module "*.css";
