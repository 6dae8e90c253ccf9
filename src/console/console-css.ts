/**
 * The console's one stylesheet, served as a static file (`/static/console.css`): the
 * Content-Security-Policy allows styles from the console itself only, so no page carries inline style.
 */
export const CONSOLE_CSS = `
:root { --fg: #1d232a; --muted: #5b6673; --line: #d8dee4; --bg: #f6f8fa; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; background: #24292f; color: #fff; }
header a { color: #fff; text-decoration: none; margin-right: 1rem; }
header a:hover { text-decoration: underline; }
.brand { font-weight: 600; }
.who { margin-left: auto; display: flex; gap: .6rem; align-items: center; }
main { padding: 1rem 1.2rem 3rem; max-width: 1200px; }
h1 { font-size: 1.35rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; word-break: break-all; }
form.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; padding: .6rem; background: var(--bg); border: 1px solid var(--line); }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: .25rem .45rem; }
button { cursor: pointer; border: 1px solid #8c959f; background: #fff; border-radius: 4px; }
button.danger { border-color: var(--bad); color: var(--bad); }
button.primary { border-color: #1f6feb; background: #1f6feb; color: #fff; }
.actions { display: flex; gap: .6rem; margin: 1rem 0; }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); font-weight: 600; }
.muted { color: var(--muted); }
.banner { padding: .7rem 1rem; border: 1px solid var(--line); border-left: 5px solid var(--muted); background: var(--bg); margin: 0 0 1rem; }
.banner.ok { border-left-color: var(--ok); }
.banner.bad { border-left-color: var(--bad); }
.pager { display: flex; gap: 1rem; }
.login { max-width: 26rem; display: flex; flex-direction: column; gap: .7rem; }
svg.chart { width: 100%; max-width: 1000px; height: auto; border: 1px solid var(--line); background: #fff; }
svg.chart text { font: 11px system-ui, sans-serif; fill: var(--muted); }
svg.chart line.axis { stroke: #8c959f; }
svg.chart line.grid { stroke: var(--line); }
svg.chart polyline { fill: none; stroke: #1f6feb; stroke-width: 1.5; }
svg.chart circle { fill: #1f6feb; }
.legend { display: flex; flex-wrap: wrap; gap: .8rem; font-size: 12px; }
.swatch { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: middle; }
.r-MALFORMED { fill: #8250df; background: #8250df; }
.r-CONTEXT { fill: #bf3989; background: #bf3989; }
.r-HEADER { fill: #cf222e; background: #cf222e; }
.r-MESSAGE { fill: #bc4c00; background: #bc4c00; }
.r-STALE { fill: #9a6700; background: #9a6700; }
.r-SCHEMA { fill: #1a7f37; background: #1a7f37; }
.r-PAYLOAD { fill: #0969da; background: #0969da; }
.r-unrecognised { fill: #57606a; background: #57606a; }
`;

/** The console's icon (`/static/favicon.svg`), so that browsers do not ask for /favicon.ico. */
export const CONSOLE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#24292f"/><path d="M4 8.5l2.5 2.5L12 5" stroke="#fff" stroke-width="2" fill="none"/></svg>`;
