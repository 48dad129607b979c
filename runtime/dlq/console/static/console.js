// The dead-letter console: plain JavaScript, no build step, no library. Everything a dead letter carries is
// attacker-controlled, so it only ever reaches the page as text (textContent, createTextNode, form values):
// never innerHTML. The page's Content-Security-Policy allows this script and the stylesheet, nothing inline.
/* global window, document, Node, HTMLInputElement, CSS, atob */
'use strict';

(() => {
  const apiBase = new URL('.', window.location.href); // /dead-letters/
  const listUrl = new URL('../dead-letters', apiBase); // /dead-letters
  const store = window.sessionStorage;
  const $ = (id) => document.getElementById(id);

  let settings = null;
  let cursor = null;
  let rows = [];
  let openId = null;
  let auditCursor = null;
  let pollTimer = null;

  // ---- DOM helpers: text only -------------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'className') node.className = value;
      else if (name === 'onclick') node.addEventListener('click', value);
      else if (name in node && typeof value !== 'string') node[name] = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  function time(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime())
      ? String(iso)
      : d
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z');
  }
  function say(message, bad) {
    const status = $('status');
    status.textContent = message;
    status.classList.toggle('bad', Boolean(bad));
  }
  function kv(dl, pairs) {
    clear(dl);
    for (const [name, value] of pairs) {
      if (value === undefined) continue;
      dl.append(el('dt', {}, name), el('dd', {}, value === null ? '—' : value));
    }
  }

  // ---- The API ------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  async function api(path, options = {}) {
    const url = path === '' ? new URL(listUrl) : new URL(path, apiBase);
    for (const [name, value] of Object.entries(options.query || {}))
      if (value !== undefined && value !== '') url.searchParams.set(name, value);
    const headers = { authorization: `Bearer ${store.getItem('dlq.token') || ''}` };
    const caller = store.getItem('dlq.caller');
    if (caller) headers['x-dlq-caller'] = encodeURIComponent(caller);
    const res = await fetch(url, { method: options.method || 'GET', headers, cache: 'no-store', credentials: 'omit' });
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (res.status === 401) {
      signOut("The token was refused: enter the dlq's DLQ_ADMIN_TOKEN.");
      throw new ApiError(401, 'unauthorised');
    }
    if (!res.ok)
      throw new ApiError(res.status, (body && body.error && body.error.message) || `the dlq answered ${res.status}`);
    return body;
  }
  function failed(err) {
    if (err instanceof ApiError && err.status === 401) return;
    say(err instanceof Error ? err.message : String(err), true);
  }

  // ---- Sign in ------------------------------------------------------------------------------------------
  function signOut(message) {
    store.removeItem('dlq.token');
    stopPolling();
    $('app').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('token').value = '';
    $('token').focus();
  }
  async function signIn() {
    try {
      settings = (await api('settings')).valueOf();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) $('login-error').textContent = err.message;
      return;
    }
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    $('store-info').textContent = `${settings.store} store`;
    const to = $('to');
    clear(to);
    to.append(el('option', { value: 'destination' }, 'its destination (the subscriber that failed)'));
    if (settings.targets.broker)
      to.append(el('option', { value: 'broker' }, `the broker (${settings.targets.broker})`));
    for (const url of settings.targets.allowed) to.append(el('option', { value: url }, url));
    $('rate').value = String(settings.rate.defaultRate);
    $('rate').max = String(settings.rate.maxRate);
    await loadLetters(true);
    $('f-type').focus();
  }
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    store.setItem('dlq.token', $('token').value.trim());
    store.setItem('dlq.caller', $('caller').value.trim());
    $('token').value = '';
    void signIn();
  });
  $('logout').addEventListener('click', () => signOut('Signed out: the token is forgotten.'));

  // ---- Tabs ---------------------------------------------------------------------------------------------
  const tabs = ['letters', 'jobs', 'audit'];
  function showTab(name, focus) {
    for (const tab of tabs) {
      const button = $(`tab-${tab}`);
      const selected = tab === name;
      button.setAttribute('aria-selected', String(selected));
      button.tabIndex = selected ? 0 : -1;
      $(`view-${tab}`).hidden = !selected;
      if (selected && focus) button.focus();
    }
    if (name === 'jobs') void loadJobs();
    if (name === 'audit') void loadAudit(true);
  }
  for (const tab of tabs) {
    const button = $(`tab-${tab}`);
    button.addEventListener('click', () => showTab(tab, false));
    button.addEventListener('keydown', (event) => {
      const i = tabs.indexOf(tab);
      if (event.key === 'ArrowRight') showTab(tabs[(i + 1) % tabs.length], true);
      else if (event.key === 'ArrowLeft') showTab(tabs[(i + tabs.length - 1) % tabs.length], true);
      else return;
      event.preventDefault();
    });
  }

  // ---- Filters and the list -----------------------------------------------------------------------------
  function filters() {
    const form = $('filters');
    const out = {};
    for (const name of ['type', 'source', 'code', 'destination', 'replayed']) {
      const value = form.elements[name].value.trim();
      if (value !== '') out[name] = value;
    }
    for (const name of ['receivedFrom', 'receivedTo']) {
      const value = form.elements[name].value;
      if (value) out[name] = `${value.length === 16 ? `${value}:00` : value}Z`;
    }
    return out;
  }
  function describeFilters(f) {
    const parts = Object.entries(f).map(([name, value]) => `${name} = ${value}`);
    return parts.length ? parts.join(', ') : 'no filter: every dead letter';
  }

  async function loadLetters(reset) {
    if (reset) {
      cursor = null;
      rows = [];
      clear($('letters').tBodies[0]);
    }
    let page;
    try {
      page = await api('', { query: { ...filters(), limit: '50', cursor: cursor || undefined } });
    } catch (err) {
      failed(err);
      return;
    }
    cursor = page.nextCursor;
    const body = $('letters').tBodies[0];
    for (const item of page.items) {
      rows.push(item);
      body.append(row(item));
    }
    $('empty').hidden = rows.length > 0;
    $('more').hidden = cursor === null;
    $('select-all').checked = false;
    updateSelection();
    const corrupt = page.corrupt || [];
    $('corrupt').hidden = corrupt.length === 0;
    const list = $('corrupt').querySelector('ul');
    clear(list);
    for (const line of corrupt)
      list.append(el('li', {}, `line ${line.line} (offset ${line.offset}): ${line.reason} — ${line.preview}`));
    say(`${rows.length} dead letter${rows.length === 1 ? '' : 's'} shown${cursor ? ' (more below)' : ''}`);
  }

  function row(item) {
    const label = item.eventId || item.id;
    const code = item.error && item.error.code;
    const tr = el(
      'tr',
      { 'data-id': item.id },
      el(
        'td',
        {},
        el('input', {
          type: 'checkbox',
          className: 'pick',
          'aria-label': `Select dead letter ${label}`,
          'data-id': item.id,
        }),
      ),
      el('td', {}, time(item.receivedAt)),
      el('td', { title: label }, item.eventId === null ? '' : String(item.eventId)),
      el(
        'td',
        {},
        el(
          'button',
          { type: 'button', className: 'open', title: `Open dead letter ${label}` },
          item.type || (item.invalid ? '(not a valid CloudEvent)' : '(no type)'),
        ),
      ),
      el('td', { title: item.source || '' }, item.source || ''),
      el('td', { className: code && Number(code) >= 400 ? 'code-bad' : '' }, code || ''),
      el('td', { title: (item.error && item.error.destination) || '' }, (item.error && item.error.destination) || ''),
      el('td', { className: item.replayedAt ? 'yes' : '' }, item.replayedAt ? time(item.replayedAt) : 'no'),
    );
    tr.addEventListener('click', (event) => {
      if (event.target instanceof HTMLInputElement) return;
      void showDetail(item.id);
    });
    return tr;
  }

  function selectedIds() {
    return [...document.querySelectorAll('#letters input.pick:checked')].map((box) => box.getAttribute('data-id'));
  }
  function updateSelection() {
    const n = selectedIds().length;
    $('replay-selected').disabled = n === 0;
    $('purge-selected').disabled = n === 0;
    $('replay-selected').textContent = n ? `Replay ${n} selected…` : 'Replay selected';
    $('purge-selected').textContent = n ? `Purge ${n} selected…` : 'Purge selected';
  }
  $('letters').addEventListener('change', (event) => {
    if (event.target === $('select-all'))
      for (const box of document.querySelectorAll('#letters input.pick')) box.checked = event.target.checked;
    updateSelection();
  });
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    void loadLetters(true);
  });
  $('filters').addEventListener('reset', () => setTimeout(() => void loadLetters(true), 0));
  $('more').addEventListener('click', () => void loadLetters(false));

  // ---- One dead letter ----------------------------------------------------------------------------------
  function bytesOf(base64) {
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }
  function hexDump(bytes) {
    const lines = [];
    const max = Math.min(bytes.length, 64 * 1024);
    for (let offset = 0; offset < max; offset += 16) {
      const chunk = bytes.subarray(offset, Math.min(offset + 16, max));
      const hex = [...chunk].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      const ascii = [...chunk].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
      lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
    }
    if (bytes.length > max) lines.push(`… ${bytes.length - max} more bytes`);
    return lines.join('\n');
  }
  function looksJson(contentType) {
    return !contentType || /[/+]json(\s*;|$)/i.test(contentType);
  }
  function printable(text) {
    let bad = 0;
    for (const c of text) {
      const code = c.charCodeAt(0);
      if ((code < 0x20 && c !== '\n' && c !== '\r' && c !== '\t') || c === '\ufffd') bad++;
    }
    return bad === 0;
  }
  /**
   * Valid JSON text laid out as JSON.stringify(value, null, 2) would, from its own tokens: numbers too big
   * for a double, repeated keys and key order stay as they were sent.
   */
  function indentJson(text) {
    let out = '';
    let depth = 0;
    const newline = () => `\n${'  '.repeat(depth)}`;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        let j = i + 1;
        while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
        out += text.slice(i, j + 1);
        i = j;
      } else if (c === '{' || c === '[') {
        const close = c === '{' ? '}' : ']';
        let j = i + 1;
        while (j < text.length && ' \t\n\r'.includes(text[j])) j++;
        if (text[j] === close) {
          out += c + close;
          i = j;
        } else {
          depth++;
          out += c + newline();
        }
      } else if (c === '}' || c === ']') {
        depth--;
        out += newline() + c;
      } else if (c === ',') out += `,${newline()}`;
      else if (c === ':') out += ': ';
      else if (!' \t\n\r'.includes(c)) out += c;
    }
    return out;
  }
  /** What to show for the event's data: [kind, text, base64 or null]. `stored`: the data as it came, if kept. */
  function renderData(event, stored) {
    const type = typeof event.datacontenttype === 'string' ? event.datacontenttype : '';
    if (stored && stored.kind === 'json' && typeof stored.text === 'string') {
      try {
        JSON.parse(stored.text);
        return ['JSON', indentJson(stored.text), null];
      } catch {
        // shown from the event below
      }
    }
    if ('data' in event && event.data !== undefined && event.data !== null) {
      if (typeof event.data === 'string') {
        if (looksJson(type)) {
          try {
            JSON.parse(event.data);
            return ['JSON', indentJson(event.data), null];
          } catch {
            // shown as text
          }
        }
        return ['Text', event.data, null];
      }
      return ['JSON', JSON.stringify(event.data, null, 2), null];
    }
    if (typeof event.data_base64 === 'string') {
      let bytes;
      try {
        bytes = bytesOf(event.data_base64);
      } catch {
        return ['Base64 (not valid base64)', event.data_base64, null];
      }
      let text = null;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        text = null;
      }
      if (text !== null && looksJson(type)) {
        try {
          JSON.parse(text);
          return ['JSON', indentJson(text), event.data_base64];
        } catch {
          // not JSON after all: text or binary below
        }
      }
      if (text !== null && printable(text))
        return [`Text (${bytes.length} bytes${type ? `, ${type}` : ''})`, text, event.data_base64];
      return [`Binary (${bytes.length} bytes${type ? `, ${type}` : ''}): hex`, hexDump(bytes), event.data_base64];
    }
    return ['No data', '', null];
  }
  function prettyAnswer(text) {
    if (text === undefined || text === null || text === '') return '(empty)';
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }

  async function showDetail(id) {
    let letter;
    try {
      letter = (await api(encodeURIComponent(id))).deadLetter;
    } catch (err) {
      failed(err);
      return;
    }
    openId = id;
    for (const tr of $('letters').tBodies[0].rows)
      tr.setAttribute('aria-current', String(tr.getAttribute('data-id') === id));
    const event = letter.event || {};
    $('detail-title').textContent = `Dead letter ${event.id !== undefined ? event.id : letter.id}`;
    const replay = letter.replayed;
    kv($('detail-summary'), [
      ['Store id', letter.id],
      ['Event id', event.id !== undefined ? String(event.id) : null],
      ['Received', time(letter.receivedAt)],
      ['Stored raw', letter.invalid !== undefined ? letter.invalid : undefined],
      ['Replayed', replay ? `${time(replay.replayedAt)} → ${replay.target} (status ${replay.status})` : 'no'],
      ['Replay id', replay && replay.replayId ? replay.replayId : undefined],
      ['Replay job', replay && replay.job ? replay.job : undefined],
      [
        'A replay of',
        typeof event.replayid === 'string'
          ? `replay ${event.replayid} (this event failed again after a replay)`
          : undefined,
      ],
    ]);
    kv($('detail-error'), [
      ['Destination', letter.error.destination !== undefined ? letter.error.destination : null],
      ['Status code', letter.error.code !== undefined ? letter.error.code : null],
    ]);
    $('detail-answer').textContent = prettyAnswer(letter.error.data);
    const attributes = $('detail-attributes').tBodies[0];
    clear(attributes);
    for (const [name, value] of Object.entries(event)) {
      if (name === 'data' || name === 'data_base64') continue;
      attributes.append(
        el('tr', {}, el('td', {}, name), el('td', {}, typeof value === 'string' ? value : JSON.stringify(value))),
      );
    }
    const [kind, text, base64] = renderData(event, letter.data);
    $('data-kind').textContent = kind;
    $('detail-data').textContent = text;
    $('data-base64-wrap').hidden = base64 === null;
    $('detail-base64').textContent = base64 || '';
    $('detail').hidden = false;
    document.querySelector('.split').classList.add('with-detail');
    $('detail').focus();
  }
  function closeDetail() {
    $('detail').hidden = true;
    document.querySelector('.split').classList.remove('with-detail');
    const opened = openId && document.querySelector(`#letters tr[data-id="${CSS.escape(openId)}"] button.open`);
    openId = null;
    if (opened) opened.focus();
  }
  $('detail-close').addEventListener('click', closeDetail);
  $('detail').addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeDetail();
  });

  // ---- Confirmation -------------------------------------------------------------------------------------
  function confirmAction(title, text, sample, okLabel) {
    const dialog = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = okLabel;
    const list = $('confirm-sample');
    clear(list);
    for (const line of sample || []) list.append(el('li', {}, line));
    list.hidden = !sample || sample.length === 0;
    dialog.returnValue = '';
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
      $('confirm-cancel').focus();
    });
  }

  function targetText(to, count) {
    if (to === 'destination')
      return count === 1
        ? 'its destination (the subscriber that failed)'
        : "each one's own destination (the subscriber that failed)";
    if (to === 'broker') return `the broker ${settings.targets.broker} (every matching Trigger gets it again)`;
    return to;
  }
  function sampleLines(sample) {
    return sample.map(
      (s) =>
        `${s.eventId || s.id} (${s.type || 'no type'})${s.target ? ` → ${s.target}` : ''}${s.cannotReplay ? ` — cannot be replayed: ${s.cannotReplay}` : ''}`,
    );
  }
  function currentTo() {
    return $('to').value || 'destination';
  }

  async function replayOne(id) {
    const to = currentTo();
    try {
      const plan = await api(`${encodeURIComponent(id)}/replay`, { method: 'POST', query: { to, dryRun: 'true' } });
      const force = plan.alreadyReplayedAt !== null;
      const again = force ? ` It was replayed before (${time(plan.alreadyReplayedAt)}): it will be sent again.` : '';
      const ok = await confirmAction(
        'Replay this dead letter?',
        `Send event ${plan.event.id} to ${plan.to === 'destination' ? `its destination ${plan.target}` : plan.target}.${again}`,
        [],
        'Replay',
      );
      if (!ok) return;
      const done = await api(`${encodeURIComponent(id)}/replay`, {
        method: 'POST',
        query: { to, force: force ? 'true' : undefined },
      });
      await loadLetters(true);
      await showDetail(id);
      say(`Replayed to ${done.target}: answered ${done.status} (replay id ${done.replayId}).`);
    } catch (err) {
      failed(err);
    }
  }

  async function replayMany(selection) {
    const to = currentTo();
    const rate = $('rate').value || String(settings.rate.defaultRate);
    try {
      const plan = await api('replays', { method: 'POST', query: { ...selection, to, rate, dryRun: 'true' } });
      if (plan.count === 0) {
        say('Nothing to replay: every match was replayed already (or none matches).');
        return;
      }
      const what = selection.ids
        ? `${plan.count} selected dead letter${plan.count === 1 ? '' : 's'}`
        : `${plan.count} dead letter${plan.count === 1 ? '' : 's'} matching ${describeFilters(filters())} (not replayed yet)`;
      const ok = await confirmAction(
        'Start a replay job?',
        `Replay ${what} to ${targetText(to, plan.count)}, at ${plan.rate} per second (about ${plan.estimatedSeconds} s).`,
        sampleLines(plan.sample),
        'Start the job',
      );
      if (!ok) return;
      const started = await api('replays', { method: 'POST', query: { ...selection, to, rate } });
      say(`Replay job ${started.job.id} started.`);
      showTab('jobs', true);
    } catch (err) {
      failed(err);
    }
  }

  async function purgeMany(selection, label) {
    try {
      const plan = await api('purge', { method: 'POST', query: { ...selection, dryRun: 'true' } });
      if (plan.count === 0) {
        say('Nothing to purge.');
        return;
      }
      const ok = await confirmAction(
        'Purge for good?',
        `Remove ${plan.count} ${label}. They cannot be listed, shown or replayed afterwards.`,
        sampleLines(plan.sample),
        `Purge ${plan.count}`,
      );
      if (!ok) return;
      const done = await api('purge', { method: 'POST', query: selection });
      if (openId && selection.ids && selection.ids.split(',').includes(openId)) closeDetail();
      await loadLetters(true);
      say(`Purged ${done.purged} dead letter${done.purged === 1 ? '' : 's'}.`);
    } catch (err) {
      failed(err);
    }
  }

  $('detail-replay').addEventListener('click', () => openId && void replayOne(openId));
  $('detail-purge').addEventListener('click', () => openId && void purgeMany({ ids: openId }, 'this dead letter'));
  $('replay-selected').addEventListener('click', () => void replayMany({ ids: selectedIds().join(',') }));
  $('purge-selected').addEventListener('click', () => {
    const ids = selectedIds();
    void purgeMany({ ids: ids.join(',') }, `${ids.length} selected dead letter${ids.length === 1 ? '' : 's'}`);
  });
  $('replay-matching').addEventListener('click', () => {
    const f = filters();
    void replayMany(Object.keys(f).length ? f : { all: 'true' });
  });
  $('purge-matching').addEventListener('click', () => {
    const f = filters();
    void purgeMany(Object.keys(f).length ? f : { all: 'true' }, `dead letters matching ${describeFilters(f)}`);
  });

  // ---- Jobs ---------------------------------------------------------------------------------------------
  function stopPolling() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }
  function jobItem(job) {
    const total = job.total === null ? null : job.total;
    const progress = el('progress', {
      max: String(Math.max(total || 0, 1)),
      'aria-label': `Progress of replay job ${job.id}`,
    });
    if (total !== null) progress.value = total === 0 ? 1 : job.done;
    const counts = `${job.done} of ${total === null ? '…' : total} — replayed ${job.replayed}, skipped ${job.skipped}, failed ${job.failed}`;
    const buttons = el('div', { className: 'actions' });
    if (job.state === 'running' || job.state === 'counting') {
      buttons.append(
        el(
          'button',
          { type: 'button', className: 'danger', onclick: () => void jobAction(job.id, 'cancel') },
          'Cancel job',
        ),
      );
    }
    if (job.state === 'interrupted' || job.state === 'failed') {
      buttons.append(el('button', { type: 'button', onclick: () => void jobAction(job.id, 'resume') }, 'Resume job'));
    }
    const failures = el('ul', { className: 'failures' });
    for (const f of job.failures.slice(0, 20)) failures.append(el('li', {}, `${f.eventId || f.id}: ${f.message}`));
    const target = job.to === 'destination' ? "each one's destination" : job.to;
    return el(
      'li',
      { 'data-job': job.id },
      el(
        'div',
        { className: 'job-head' },
        el('span', { className: `job-state ${job.state}` }, job.state),
        el('span', {}, `job ${job.id}`),
        el(
          'span',
          { className: 'muted' },
          `${time(job.createdAt)} · to ${target} · ${job.rate}/s · by ${job.caller.label}`,
        ),
      ),
      progress,
      el('div', { className: 'job-counts' }, counts),
      job.reason ? el('p', { className: 'error' }, job.reason) : null,
      job.failed
        ? el(
            'details',
            {},
            el(
              'summary',
              {},
              `Failures (${job.failed}${job.failed > job.failures.length ? `, first ${job.failures.length} kept` : ''})`,
            ),
            failures,
          )
        : null,
      buttons,
    );
  }
  async function loadJobs() {
    stopPolling();
    let jobs;
    try {
      jobs = (await api('replays', { query: { limit: '20' } })).jobs;
    } catch (err) {
      failed(err);
      return;
    }
    const list = $('jobs');
    const focused =
      document.activeElement && list.contains(document.activeElement) ? document.activeElement.textContent : null;
    const focusedJob =
      document.activeElement && document.activeElement.closest ? document.activeElement.closest('li[data-job]') : null;
    const focusedJobId = focusedJob ? focusedJob.getAttribute('data-job') : null;
    clear(list);
    for (const job of jobs) list.append(jobItem(job));
    $('jobs-empty').hidden = jobs.length > 0;
    if (focusedJobId) {
      const again = [...list.querySelectorAll(`li[data-job="${CSS.escape(focusedJobId)}"] button`)].find(
        (b) => b.textContent === focused,
      );
      if (again) again.focus();
    }
    if (jobs.some((job) => job.state === 'running' || job.state === 'counting') && !$('view-jobs').hidden) {
      pollTimer = setTimeout(() => void loadJobs(), 500);
    }
  }
  async function jobAction(id, action) {
    try {
      const { job } = await api(`replays/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
      say(`Job ${id}: ${job.state}.`);
    } catch (err) {
      failed(err);
    }
    await loadJobs();
  }

  // ---- Audit --------------------------------------------------------------------------------------------
  function brief(value) {
    return Object.entries(value || {})
      .map(([name, v]) => `${name}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('; ');
  }
  async function loadAudit(reset) {
    if (reset) {
      auditCursor = null;
      clear($('audit').tBodies[0]);
    }
    let page;
    try {
      page = await api('audit', { query: { limit: '50', cursor: auditCursor || undefined } });
    } catch (err) {
      failed(err);
      return;
    }
    auditCursor = page.nextCursor;
    for (const entry of page.items) {
      $('audit').tBodies[0].append(
        el(
          'tr',
          {},
          el('td', {}, time(entry.at)),
          el('td', {}, entry.action),
          el('td', {}, `${entry.caller.label} (${entry.caller.token})`),
          el('td', {}, brief(entry.what)),
          el('td', {}, brief(entry.result)),
        ),
      );
    }
    $('audit-more').hidden = auditCursor === null;
  }
  $('audit-more').addEventListener('click', () => void loadAudit(false));

  // ---- Start --------------------------------------------------------------------------------------------
  $('caller').value = store.getItem('dlq.caller') || '';
  if (store.getItem('dlq.token')) void signIn();
  else $('token').focus();
})();
