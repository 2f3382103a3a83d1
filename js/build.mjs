// Bundles the views with every dependency into iii_live/static (no CDN at run time).
import { copyFileSync } from "node:fs";
import { build } from "esbuild";

const common = { bundle: true, format: "esm", minify: true, target: "es2020", legalComments: "inline", logLevel: "warning" };
await build({ ...common, entryPoints: ["src/widget.js"], outfile: "../iii_live/static/widget.js" });
await build({ ...common, entryPoints: ["src/page.js"], outfile: "../iii_live/static/page.js" });
await build({ ...common, entryPoints: ["src/dashboard-page.js"], outfile: "../iii_live/static/dashboard.js" });
for (const page of ["browser.html", "demo.html", "dashboard.html"]) copyFileSync(`pages/${page}`, `../iii_live/static/${page}`);
