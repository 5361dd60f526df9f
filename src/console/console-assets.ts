/**
 * The console's one stylesheet, served from the project itself (no CDN, nothing fetched at run
 * time). Kept as a module so `npm run build` needs no copy step.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9; --accent: #0b5cad; --bad: #a4161a; --good: #1b7f3b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.2rem; background: #14233c; color: #fff; }
header a { color: #dfe8f5; text-decoration: none; }
header a:hover { text-decoration: underline; }
header .brand { font-weight: 600; color: #fff; }
header form { margin-left: auto; }
header .who { color: #b8c4d6; }
main { padding: 1.2rem; max-width: 1400px; }
h1 { font-size: 1.35rem; margin: 0 0 1rem; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.layout { display: grid; grid-template-columns: 1fr 280px; gap: 1.2rem; align-items: start; }
.panel { background: #fff; border: 1px solid var(--line); padding: .8rem 1rem; }
.panel ul { list-style: none; margin: 0; padding: 0; }
.panel li { display: flex; justify-content: space-between; padding: .2rem 0; border-bottom: 1px dotted var(--line); }
form.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: 1rem; background: #fff; border: 1px solid var(--line); padding: .8rem; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: .3rem .45rem; border: 1px solid #b9c0cc; border-radius: 3px; background: #fff; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.link { background: none; border: none; color: #dfe8f5; padding: 0; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; background: #fff; border: 1px solid var(--line); padding: .8rem 1rem; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; }
.status-failed, .bad { color: var(--bad); font-weight: 600; }
.status-completed, .good { color: var(--good); font-weight: 600; }
.slug { font-family: ui-monospace, monospace; background: #fdecec; color: var(--bad); padding: 0 .3rem; border-radius: 3px; }
.error { background: #fdecec; border: 1px solid #f3b8b8; padding: .8rem 1rem; margin-bottom: 1rem; }
.empty { color: var(--muted); }
.login { max-width: 420px; margin: 4rem auto; background: #fff; border: 1px solid var(--line); padding: 1.5rem; }
.login input { width: 100%; margin: .3rem 0 1rem; }
.pager { margin-top: .8rem; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 1.2rem; }
`;
