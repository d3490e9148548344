// The status page: one self-contained HTML document (no external assets) that polls
// /status.json and renders VIPs, reals, VRRP instances and recent events, and /history.json
// (src/metrics/history.ts) for per-real rate charts and the VRRP and health timelines of the last
// minutes, drawn as inline SVG. Readable on a phone.

export function statusPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xlvs status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px;background:#f6f7f9;color:#1b1f24}
h1{font-size:18px;margin:0 0 8px} h2{font-size:15px;margin:16px 0 6px}
.card{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px 10px;margin-bottom:10px;overflow-x:auto}
table{border-collapse:collapse;width:100%;min-width:420px} th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f3;white-space:nowrap}
th{font-weight:600;color:#57606a} td.n{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#1a7f37;font-weight:600}.down{color:#cf222e;font-weight:600}.drain{color:#9a6700;font-weight:600}
.MASTER{color:#1a7f37;font-weight:600}.BACKUP{color:#57606a}.FAULT{color:#cf222e}
.bar{background:#dbe9ff;height:8px;border-radius:4px}.meta{color:#57606a;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:10px;margin-top:6px}.chart{flex:1 1 300px;min-width:0}
.chart svg{width:100%;height:90px;display:block;background:#fbfcfd;border:1px solid #eef0f3}
.chart path.series{fill:none;stroke-width:1.5;vector-effect:non-scaling-stroke}
.sw{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:5px;vertical-align:middle}
.tl svg{width:100%;height:14px;display:block;min-width:200px} .tl td.bar-cell{width:60%}
rect.up,rect.MASTER{fill:#4ac26b}rect.down,rect.FAULT{fill:#ff8182}rect.drain{fill:#d4a72c}rect.BACKUP,rect.INIT{fill:#afb8c1}rect.unknown{fill:#eaeef2}
</style></head>
<body>
<h1>xlvs <span id="director"></span></h1>
<div class="meta" id="meta">loading…</div>
<div id="services"></div>
<h2>VRRP</h2><div class="card"><table id="vrrp"><thead><tr><th>instance</th><th>VRID</th><th>state</th><th>priority</th><th>VIPs</th></tr></thead><tbody></tbody></table></div>
<h2>VRRP over time</h2><div class="card tl"><table id="vrrp-timeline"><thead><tr><th>instance</th><th class="span">last minutes</th><th>transitions</th></tr></thead><tbody></tbody></table></div>
<h2>Health checks over time</h2><div class="card tl"><table id="health-timeline"><thead><tr><th>real</th><th class="span">last minutes</th><th>transitions</th></tr></thead><tbody></tbody></table></div>
<h2>Recent events</h2><div class="card"><table id="events"><thead><tr><th>time</th><th>kind</th><th>event</th></tr></thead><tbody></tbody></table></div>
<script>
"use strict";
var prev = null, prevAt = 0;
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;"}[c];});}
function num(x){return Number(x||0);}
var cur = {};
var hist = null, histAt = 0, last = null;
var COLORS = ['#0969da','#bf3989','#1a7f37','#bc4c00','#8250df','#9a6700','#1b7c83','#cf222e','#57606a','#4d2d00'];
function color(i){return COLORS[i % COLORS.length];}
function fmt(x){return x >= 1e9 ? (x/1e9).toFixed(1)+'G' : x >= 1e6 ? (x/1e6).toFixed(1)+'M' : x >= 1e3 ? (x/1e3).toFixed(1)+'k' : String(Math.round(x*10)/10);}
function clock(t){return new Date(t).toLocaleTimeString();}
/** The window the charts and timelines cover: the history's span, ending at its newest sample or transition. */
function span(){
  var h = hist, end = 0;
  if (h && h.at.length) end = h.at[h.at.length-1];
  if (h) h.health.concat(h.vrrp).forEach(function(t){ if (t.at > end) end = t.at; });
  if (!end) end = Date.now();
  var len = h && h.capacity ? h.capacity * h.intervalMs : 600000;
  return {start: end - len, end: end};
}
/** One chart: a path per real (breaks where the real had no rate), its y scale from the largest value. */
function chart(v, metric, title){
  var W = 600, H = 90, w = span(), max = 0, rows = [];
  if (hist) hist.reals.forEach(function(r){ if (r.service === v.key) rows.push(r); });
  rows.forEach(function(r){ r[metric].forEach(function(x){ if (x !== null && x > max) max = x; }); });
  var top = max > 0 ? max * 1.1 : 1;
  var paths = v.reals.map(function(real, i){
    var r = null; rows.forEach(function(x){ if (x.real === real.key) r = x; });
    var d = '', pen = false, n = 0;
    if (r) r[metric].forEach(function(y, j){
      if (y === null) { pen = false; return; }
      var x = (hist.at[j] - w.start) / (w.end - w.start) * W, yy = H - y / top * H;
      d += (pen ? 'L' : 'M') + x.toFixed(1) + ' ' + yy.toFixed(1); pen = true; n++;
    });
    return '<path class="series" data-real="' + esc(real.key) + '" data-points="' + n + '" stroke="' + color(i) + '" d="' + (d || 'M0 ' + H) + '"><title>' + esc(real.key) + '</title></path>';
  }).join('');
  return '<div class="chart" data-metric="' + metric + '"><div class="meta">' + title + ' · max ' + fmt(max) + ' · last ' + Math.round((w.end - w.start)/60000) + ' min</div>' +
    '<svg viewBox="0 0 ' + W + ' ' + H + '" preserveAspectRatio="none" role="img" aria-label="' + title + '">' + paths + '</svg></div>';
}
/** A timeline bar: the state before each transition, from the window's start to the end. */
function timeline(trans, now){
  var w = span(), W = 600, segs = [], state = trans.length ? trans[0].from : now, t0 = w.start;
  trans.forEach(function(t){ segs.push([t0, t.at, state]); state = t.to; t0 = t.at; });
  segs.push([t0, w.end, state]);
  return '<svg viewBox="0 0 ' + W + ' 14" preserveAspectRatio="none">' + segs.map(function(g){
    var a = Math.max(g[0], w.start), b = Math.min(g[1], w.end);
    if (b <= a) return '';
    var x = (a - w.start) / (w.end - w.start) * W, wd = (b - a) / (w.end - w.start) * W;
    return '<rect class="seg ' + esc(g[2]) + '" x="' + x.toFixed(1) + '" y="0" width="' + wd.toFixed(1) + '" height="14"><title>' + esc(g[2]) + ' ' + clock(a) + '–' + clock(b) + '</title></rect>';
  }).join('') + '</svg>';
}
function transText(trans){
  return trans.slice(-3).reverse().map(function(t){ return '<div class="tr">' + clock(t.at) + ' ' + esc(t.from) + ' → ' + esc(t.to) + (t.reason ? ' <span class="meta">' + esc(t.reason) + '</span>' : '') + '</div>'; }).join('') || '<span class="meta">none</span>';
}
function renderTimelines(s){
  var h = hist || {health: [], vrrp: []};
  document.querySelector('#vrrp-timeline tbody').innerHTML = s.vrrp.map(function(i){
    var tr = h.vrrp.filter(function(t){ return t.instance === i.name; });
    return '<tr data-instance="' + esc(i.name) + '" data-transitions="' + tr.length + '"><td>' + esc(i.name) + '</td><td class="bar-cell">' + timeline(tr, i.state) + '</td><td>' + transText(tr) + '</td></tr>';
  }).join('') || '<tr><td colspan="3" class="meta">no VRRP instances</td></tr>';
  var rows = '';
  s.services.forEach(function(v){ v.reals.forEach(function(r){
    var tr = h.health.filter(function(t){ return t.service === v.key && t.real === r.key; });
    rows += '<tr data-real="' + esc(v.key + ' ' + r.key) + '" data-transitions="' + tr.length + '"><td>' + esc(r.key) + ' <span class="meta">' + esc(v.key) + '</span></td><td class="bar-cell">' + timeline(tr, r.state) + '</td><td>' + transText(tr) + '</td></tr>';
  }); });
  document.querySelector('#health-timeline tbody').innerHTML = rows || '<tr><td colspan="3" class="meta">no reals</td></tr>';
}
function render(s){
  last = s;
  var now = Date.now(); cur = {};
  document.getElementById('director').textContent = s.director + ' on ' + s.interface + ' (XDP ' + s.xdpMode + ')';
  document.getElementById('meta').textContent = 'updated ' + new Date().toLocaleTimeString() + ' · ' + s.services.length + (s.services.length === 1 ? ' service · ' : ' services · ') + s.connections + (s.connections === 1 ? ' connection' : ' connections');
  var html = '';
  s.services.forEach(function(v){
    var total = 0; v.reals.forEach(function(r){ total += num(r.counters.packets); });
    html += '<div class="card"><b>' + esc(v.key) + '</b> <span class="meta">' + esc(v.method.toUpperCase()) + ' · ' + esc(v.scheduler) + (v.sorryActive ? ' · <span class="down">sorry server active</span>' : '') + '</span>';
    html += '<table><thead><tr><th>real</th><th>state</th><th>weight</th><th>share</th><th></th><th>pkt/s</th><th>packets</th><th>conns</th></tr></thead><tbody>';
    v.reals.forEach(function(r){
      var k = v.key + '|' + r.key; cur[k] = {p: num(r.counters.packets)};
      var pps = (prev && prev[k]) ? Math.max(0,(cur[k].p - prev[k].p)/((now-prevAt)/1000)) : 0;
      var share = total ? num(r.counters.packets)/total : 0;
      html += '<tr><td><span class="sw" style="background:' + color(v.reals.indexOf(r)) + '"></span>' + esc(r.key) + '</td><td class="' + esc(r.state) + '" title="' + esc(r.reason) + '">' + esc(r.state) + '</td><td class="n">' + r.effectiveWeight + '/' + r.weight + (r.override ? ' <span class="drain" title="' + esc(r.reason) + '">' + (r.override.drained ? 'drained by operator' : 'weight ' + r.override.weight + ' by operator') + '</span>' : '') + '</td>' +
        '<td class="n">' + (share*100).toFixed(1) + '%</td><td style="width:25%"><div class="bar" style="width:' + (share*100).toFixed(1) + '%"></div></td>' +
        '<td class="n">' + pps.toFixed(1) + '</td><td class="n">' + num(r.counters.packets) + '</td><td class="n">' + num(r.counters.newFlows) + '</td></tr>';
    });
    html += '</tbody></table><div class="charts">' + chart(v, 'pps', 'packets/s') + chart(v, 'cps', 'new flows/s') + '</div></div>';
  });
  document.getElementById('services').innerHTML = html || '<div class="card meta">no services</div>';
  document.querySelector('#vrrp tbody').innerHTML = s.vrrp.map(function(i){
    return '<tr><td>' + esc(i.name) + '</td><td>' + i.vrid + '</td><td class="' + esc(i.state) + '">' + esc(i.state) + '</td><td class="n">' + i.effectivePriority + '</td><td>' + esc(i.vips.join(', ')) + '</td></tr>';
  }).join('') || '<tr><td colspan="5" class="meta">no VRRP instances</td></tr>';
  document.querySelector('#events tbody').innerHTML = s.events.slice(-30).reverse().map(function(e){
    return '<tr><td>' + new Date(e.at).toLocaleTimeString() + '</td><td>' + esc(e.kind) + '</td><td>' + esc(e.message) + '</td></tr>';
  }).join('') || '<tr><td colspan="3" class="meta">no events yet</td></tr>';
  renderTimelines(s);
  prev = cur; prevAt = now;
}
/** The history changes once a sample interval: fetched again only when one has passed. */
function pollHistory(){
  if (hist && Date.now() - histAt < Math.max(hist.intervalMs, 2000)) return Promise.resolve();
  return fetch('/history.json', {cache: 'no-store'}).then(function(r){ return r.ok ? r.json() : null; })
    .then(function(h){ if (h) { hist = h; histAt = Date.now(); } }, function(){ /* older daemon: no charts */ });
}
function poll(){
  Promise.all([fetch('/status.json', {cache: 'no-store'}).then(function(r){ return r.json(); }), pollHistory()])
    .then(function(a){ render(a[0]); })
    .catch(function(e){ document.getElementById('meta').textContent = 'cannot reach the daemon: ' + e; })
    .then(function(){ setTimeout(poll, 2000); });
}
poll();
</script>
</body></html>
`;
}
