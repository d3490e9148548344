// The status page: one self-contained HTML document (no external assets) that polls
// /status.json and renders VIPs, reals, VRRP instances and recent events. Readable on a phone.

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
</style></head>
<body>
<h1>xlvs <span id="director"></span></h1>
<div class="meta" id="meta">loading…</div>
<div id="services"></div>
<h2>VRRP</h2><div class="card"><table id="vrrp"><thead><tr><th>instance</th><th>VRID</th><th>state</th><th>priority</th><th>VIPs</th></tr></thead><tbody></tbody></table></div>
<h2>Recent events</h2><div class="card"><table id="events"><thead><tr><th>time</th><th>kind</th><th>event</th></tr></thead><tbody></tbody></table></div>
<script>
"use strict";
var prev = null, prevAt = 0;
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;"}[c];});}
function num(x){return Number(x||0);}
var cur = {};
function render(s){
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
      html += '<tr><td>' + esc(r.key) + '</td><td class="' + esc(r.state) + '" title="' + esc(r.reason) + '">' + esc(r.state) + '</td><td class="n">' + r.effectiveWeight + '/' + r.weight + (r.override ? ' <span class="drain" title="' + esc(r.reason) + '">' + (r.override.drained ? 'drained by operator' : 'weight ' + r.override.weight + ' by operator') + '</span>' : '') + '</td>' +
        '<td class="n">' + (share*100).toFixed(1) + '%</td><td style="width:25%"><div class="bar" style="width:' + (share*100).toFixed(1) + '%"></div></td>' +
        '<td class="n">' + pps.toFixed(1) + '</td><td class="n">' + num(r.counters.packets) + '</td><td class="n">' + num(r.counters.newFlows) + '</td></tr>';
    });
    html += '</tbody></table></div>';
  });
  document.getElementById('services').innerHTML = html || '<div class="card meta">no services</div>';
  document.querySelector('#vrrp tbody').innerHTML = s.vrrp.map(function(i){
    return '<tr><td>' + esc(i.name) + '</td><td>' + i.vrid + '</td><td class="' + esc(i.state) + '">' + esc(i.state) + '</td><td class="n">' + i.effectivePriority + '</td><td>' + esc(i.vips.join(', ')) + '</td></tr>';
  }).join('') || '<tr><td colspan="5" class="meta">no VRRP instances</td></tr>';
  document.querySelector('#events tbody').innerHTML = s.events.slice(-30).reverse().map(function(e){
    return '<tr><td>' + new Date(e.at).toLocaleTimeString() + '</td><td>' + esc(e.kind) + '</td><td>' + esc(e.message) + '</td></tr>';
  }).join('') || '<tr><td colspan="3" class="meta">no events yet</td></tr>';
  prev = cur; prevAt = now;
}
function poll(){
  fetch('/status.json', {cache: 'no-store'}).then(function(r){ return r.json(); }).then(render)
    .catch(function(e){ document.getElementById('meta').textContent = 'cannot reach the daemon: ' + e; })
    .then(function(){ setTimeout(poll, 2000); });
}
poll();
</script>
</body></html>
`;
}
