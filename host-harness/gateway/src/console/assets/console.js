// ArmorIQ console: live updates by polling with fetch (every second).
// Every value from the server is written with textContent or setAttribute,
// never parsed as HTML.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf"]');
  var csrf = meta ? meta.getAttribute('content') : '';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function cell(tr, text, cls) {
    var td = el('td', cls, text === null || text === undefined || text === '' ? '\u2014' : text);
    tr.appendChild(td);
    return td;
  }
  function waited(s) {
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60) + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }
  function hidden(name, value) {
    var i = el('input');
    i.type = 'hidden';
    i.name = name;
    i.value = value;
    return i;
  }
  function poll(url, status, apply) {
    function tick() {
      fetch(url(), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) {
          if (r.status === 401) { window.location.assign('/console/login'); return null; }
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then(function (data) {
          if (!data) return;
          apply(data);
          if (status) status.textContent = 'Last update ' + new Date().toLocaleTimeString() + '.';
        })
        .catch(function (e) {
          if (status) status.textContent = 'Live updates paused (' + e.message + '); retrying.';
        })
        .then(function () { window.setTimeout(tick, 1000); });
    }
    tick();
  }

  // Approvals: rows keyed by delegation id, added and removed in place, so
  // the keyboard focus stays where it is while the list updates.
  function approvals(table) {
    var tbody = document.getElementById('pending');
    var none = document.getElementById('none-pending');
    var rows = {};
    function decision(it) {
      var td = el('td');
      if (!it.may_decide) {
        td.appendChild(el('span', 'hint', 'Only ' + it.approvers.join(', ') + ' may decide.'));
        return td;
      }
      var box = el('div', 'decide');
      var ok = el('form', 'inline');
      ok.method = 'post';
      ok.action = '/console/approvals/' + encodeURIComponent(it.id) + '/approve';
      ok.appendChild(hidden('csrf', csrf));
      var approve = el('button', 'approve', 'Approve');
      approve.type = 'submit';
      approve.setAttribute('data-id', it.id);
      approve.setAttribute('aria-label', 'Approve ' + it.tool + ' for ' + (it.user || 'unknown user') + ' (' + it.id + ')');
      ok.appendChild(approve);
      box.appendChild(ok);
      var no = el('form', 'row');
      no.method = 'post';
      no.action = '/console/approvals/' + encodeURIComponent(it.id) + '/reject';
      no.appendChild(hidden('csrf', csrf));
      var reason = el('input');
      reason.name = 'reason';
      reason.required = true;
      reason.placeholder = 'Reason to reject';
      reason.setAttribute('aria-label', 'Reason to reject ' + it.id);
      reason.setAttribute('data-id', it.id);
      no.appendChild(reason);
      var reject = el('button', 'reject', 'Reject');
      reject.type = 'submit';
      reject.setAttribute('data-id', it.id);
      reject.setAttribute('aria-label', 'Reject ' + it.tool + ' for ' + (it.user || 'unknown user') + ' (' + it.id + ')');
      no.appendChild(reject);
      box.appendChild(no);
      td.appendChild(box);
      return td;
    }
    function row(it) {
      var tr = el('tr');
      tr.setAttribute('data-id', it.id);
      cell(tr, waited(it.waited_s), 'waited');
      cell(tr, it.user);
      cell(tr, it.agent);
      cell(tr, (it.mcp ? it.mcp + '.' : '') + it.tool, 'tool');
      var args = el('td');
      args.appendChild(el('pre', 'args', it.arguments));
      tr.appendChild(args);
      cell(tr, it.amount, 'amount');
      var held = el('td', 'held-by');
      held.appendChild(el('div', null, it.statement_id ? 'Statement ' + it.statement_id : it.reason));
      if (it.statement_id) held.appendChild(el('div', 'hint', it.reason));
      if (it.statement) held.appendChild(el('pre', 'statement', it.statement));
      tr.appendChild(held);
      cell(tr, it.approvers.length ? it.approvers.join(', ') : 'any admin', 'approvers');
      tr.appendChild(decision(it));
      return tr;
    }
    poll(function () { return table.getAttribute('data-approvals'); },
      document.getElementById('live-status'), function (data) {
        var seen = {};
        data.items.forEach(function (it) {
          seen[it.id] = true;
          if (!rows[it.id]) {
            rows[it.id] = row(it);
            tbody.appendChild(rows[it.id]);
          }
          rows[it.id].querySelector('.waited').textContent = waited(it.waited_s);
        });
        Object.keys(rows).forEach(function (id) {
          if (!seen[id]) { tbody.removeChild(rows[id]); delete rows[id]; }
        });
        none.hidden = data.items.length > 0;
        table.hidden = data.items.length === 0;
      });
  }

  // Audit trail: newest first; later polls ask only for rows past the
  // largest seq seen and put them on top.
  function audit(table) {
    var tbody = document.getElementById('audit-rows');
    var base = table.getAttribute('data-audit');
    var last = null;
    function row(r) {
      var tr = el('tr');
      tr.setAttribute('data-seq', r.seq);
      cell(tr, r.seq);
      cell(tr, r.time);
      var o = el('td');
      o.appendChild(el('span', 'outcome o-' + r.outcome, r.outcome));
      tr.appendChild(o);
      cell(tr, r.route);
      cell(tr, r.user);
      cell(tr, r.agent);
      cell(tr, (r.mcp ? r.mcp + '.' : '') + (r.tool || ''));
      var p = el('td');
      if (r.plan) {
        var a = el('a', null, r.plan);
        a.href = '/console/plans/' + encodeURIComponent(r.plan);
        p.appendChild(a);
      } else {
        p.textContent = '\u2014';
      }
      tr.appendChild(p);
      cell(tr, r.step);
      cell(tr, r.reason, 'reason');
      return tr;
    }
    poll(function () { return last === null ? base : base + 'after=' + last; },
      document.getElementById('live-status'), function (data) {
        var rows = data.rows;
        for (var i = rows.length - 1; i >= 0; i--) {
          tbody.insertBefore(row(rows[i]), tbody.firstChild);
          if (last === null || rows[i].seq > last) last = rows[i].seq;
        }
        if (last === null) last = 0;
      });
  }

  var t = document.getElementById('pending-table');
  if (t) approvals(t);
  var a = document.getElementById('audit-table');
  if (a) audit(a);
})();
