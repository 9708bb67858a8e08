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

  // Approvals: one card per held call, keyed by delegation id, added and
  // removed in place, so the keyboard focus stays where it is while the
  // list updates.
  function approvals(list) {
    var box = document.getElementById('pending');
    var none = document.getElementById('none-pending');
    var cards = {};
    // A key–value row of a <dl>: the value is text, or an element.
    function kv(dl, key, value, cls) {
      var row = el('div', cls);
      row.appendChild(el('dt', null, key));
      var dd = el('dd');
      if (value instanceof Node) dd.appendChild(value);
      else dd.textContent = value === null || value === undefined || value === '' ? '\u2014' : String(value);
      row.appendChild(dd);
      dl.appendChild(row);
      return dd;
    }
    // An argument's value: a string as it is, anything else as compact JSON.
    function argText(v) {
      return typeof v === 'string' ? v : JSON.stringify(v);
    }
    function args(it) {
      var dl = el('dl', 'kv args');
      var a = it.args;
      if (a && typeof a === 'object' && !Array.isArray(a)) {
        var names = Object.keys(a);
        if (!names.length) return el('p', 'hint', 'No arguments.');
        names.forEach(function (k) { kv(dl, k, argText(a[k])).className = 'value'; });
      } else {
        kv(dl, 'arguments', a === null || a === undefined ? it.arguments : argText(a)).className = 'value';
      }
      return dl;
    }
    function step(it) {
      var span = el('span', 'step');
      var hasStep = it.step !== null && it.step !== undefined;
      if (!it.plan_id) {
        span.textContent = hasStep ? 'step ' + it.step : '\u2014';
        return span;
      }
      span.appendChild(document.createTextNode((hasStep ? 'step ' + it.step + ' of ' : '') + 'plan '));
      var link = el('a', null, it.plan_id);
      link.href = '/console/plans/' + encodeURIComponent(it.plan_id);
      span.appendChild(link);
      return span;
    }
    function heldBy(it) {
      var sec = el('section', 'held-by');
      sec.appendChild(el('h3', null, 'Why it was held'));
      sec.appendChild(el('p', 'statement-words', it.statement_words || it.reason || 'No policy statement recorded.'));
      var ref = [];
      if (it.statement_id) ref.push('Statement ' + it.statement_id);
      if (it.reason) ref.push(it.reason);
      if (ref.length) sec.appendChild(el('p', 'hint rule', ref.join(' \u00b7 ')));
      if (it.statement) {
        var d = el('details');
        d.appendChild(el('summary', null, 'Policy statement (JSON)'));
        var pretty = it.statement;
        try { pretty = JSON.stringify(JSON.parse(it.statement), null, 2); } catch (e) { /* shown as it is */ }
        d.appendChild(el('pre', 'statement', pretty));
        sec.appendChild(d);
      }
      return sec;
    }
    function decision(it) {
      var sec = el('section', 'decision');
      sec.appendChild(el('h3', null, 'Decision'));
      sec.appendChild(el('p', 'approvers', 'Approvers: ' + (it.approvers.length ? it.approvers.join(', ') : 'any admin')));
      if (!it.may_decide) {
        sec.appendChild(el('p', 'hint', 'Only ' + it.approvers.join(', ') + ' may decide.'));
        return sec;
      }
      var who = it.tool + ' for ' + (it.user || 'unknown user') + ' (' + it.id + ')';
      var ok = el('form', 'inline');
      ok.method = 'post';
      ok.action = '/console/approvals/' + encodeURIComponent(it.id) + '/approve';
      ok.appendChild(hidden('csrf', csrf));
      var approve = el('button', 'approve', 'Approve');
      approve.type = 'submit';
      approve.setAttribute('data-id', it.id);
      approve.setAttribute('aria-label', 'Approve ' + who);
      ok.appendChild(approve);
      sec.appendChild(ok);
      var no = el('form', 'reject-form');
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
      reject.setAttribute('aria-label', 'Reject ' + who);
      no.appendChild(reject);
      sec.appendChild(no);
      return sec;
    }
    function card(it) {
      var art = el('article', 'held');
      art.setAttribute('data-id', it.id);
      art.setAttribute('aria-labelledby', 'held-' + it.id);
      var head = el('header', 'held-head');
      var h = el('h2', 'tool', it.tool);
      h.id = 'held-' + it.id;
      if (it.mcp) h.appendChild(el('span', 'on', ' on ' + it.mcp));
      head.appendChild(h);
      if (it.amount !== null && it.amount !== undefined) {
        var amount = el('span', 'amount-badge');
        amount.appendChild(el('span', 'hint', 'Amount '));
        amount.appendChild(document.createTextNode(String(it.amount)));
        head.appendChild(amount);
      }
      art.appendChild(head);
      var body = el('div', 'held-body');
      var call = el('section', 'held-call');
      call.appendChild(el('h3', null, 'Arguments'));
      call.appendChild(args(it));
      call.appendChild(el('h3', null, 'The call'));
      var facts = el('dl', 'kv call');
      kv(facts, 'Tool', it.tool, 'f-tool');
      kv(facts, 'MCP server', it.mcp, 'f-mcp');
      kv(facts, 'Plan', step(it), 'f-step');
      kv(facts, 'Requester', it.user, 'f-user');
      kv(facts, 'Agent', it.agent, 'f-agent');
      kv(facts, 'Amount', it.amount, 'f-amount');
      kv(facts, 'Waiting', waited(it.waited_s), 'f-waited').className = 'waited';
      kv(facts, 'Expires in', waited(it.expires_in_s), 'f-expires').className = 'expires';
      kv(facts, 'Arguments hash', it.args_hash, 'f-hash').className = 'hash';
      call.appendChild(facts);
      body.appendChild(call);
      var side = el('div', 'held-side');
      side.appendChild(heldBy(it));
      side.appendChild(decision(it));
      body.appendChild(side);
      art.appendChild(body);
      return art;
    }
    poll(function () { return list.getAttribute('data-approvals'); },
      document.getElementById('live-status'), function (data) {
        var seen = {};
        data.items.forEach(function (it) {
          seen[it.id] = true;
          if (!cards[it.id]) {
            cards[it.id] = card(it);
            box.appendChild(cards[it.id]);
          }
          cards[it.id].querySelector('.waited').textContent = waited(it.waited_s);
          cards[it.id].querySelector('.expires').textContent = waited(it.expires_in_s);
        });
        Object.keys(cards).forEach(function (id) {
          if (!seen[id]) { box.removeChild(cards[id]); delete cards[id]; }
        });
        none.hidden = data.items.length > 0;
        list.hidden = data.items.length === 0;
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

  var t = document.getElementById('pending-list');
  if (t) approvals(t);
  var a = document.getElementById('audit-table');
  if (a) audit(a);
})();
