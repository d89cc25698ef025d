// The staff console: plain JavaScript on the JSON API under /staff/api, no framework and nothing to
// build. Patient text is only ever set with textContent, never parsed as markup.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { session: null, conversations: [], currentId: null, view: 'conversations', events: null, phone: '' };

const STATE_LABELS = { emergency: 'Emergency', handoff: 'With staff', opted_out: 'Opted out', bot: 'Assistant' };
const ORIGIN_LABELS = { generated: 'generated answer', fallback: 'fallback (best passage)', fixed: 'fixed reply', staff: 'staff reply' };
const ACTION_LABELS = {
  take_over: 'took over', resume: 'handed back to the assistant', template: 'sent the follow-up template',
  timeout_resume: 'pause ended (no staff reply): the assistant answers again', reply: 'replied',
};
const CHANNEL_LABELS = { meta: 'WhatsApp', twilio_whatsapp: 'WhatsApp (Twilio)', twilio_sms: 'SMS' };

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (method !== 'GET' && state.session) headers['x-csrf-token'] = state.session.csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`/staff/api${path}`, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new ApiError(response.status, data.error?.code ?? 'error', data.error?.message ?? `request failed (${response.status})`);
    if (response.status === 401 && state.session) signedOut('Your session has ended. Please sign in again.');
    throw error;
  }
  return data;
}

function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

function notice(text, kind = 'info') {
  const box = $('notice');
  box.textContent = text;
  box.dataset.kind = kind;
}

function channelLabel(c) {
  if (c.channel === 'meta') return CHANNEL_LABELS.meta;
  return c.patient.startsWith('whatsapp:') ? CHANNEL_LABELS.twilio_whatsapp : CHANNEL_LABELS.twilio_sms;
}

function phoneOf(address) {
  const bare = address.replace(/^whatsapp:/, '');
  return bare.startsWith('+') ? bare : `+${bare}`;
}

function ago(iso) {
  if (!iso) return '';
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function clock(iso) {
  return new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
}

// ---- views -------------------------------------------------------------------------------------

function show(view) {
  state.view = view;
  $('sign-in').hidden = view !== 'sign-in';
  $('conversations-view').hidden = view !== 'conversations';
  $('uncovered-view').hidden = view !== 'uncovered';
  $('nav').hidden = view === 'sign-in';
  $('who').hidden = view === 'sign-in';
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function routeFromLocation() {
  const match = /^\/staff\/c\/(\d+)/.exec(location.pathname);
  if (match) return { view: 'conversations', id: Number(match[1]) };
  if (location.pathname.startsWith('/staff/uncovered')) return { view: 'uncovered', id: null };
  return { view: 'conversations', id: null };
}

function navigate(path) {
  if (location.pathname !== path) history.pushState(null, '', path);
  applyRoute();
}

function applyRoute() {
  if (!state.session) return;
  const route = routeFromLocation();
  show(route.view);
  state.currentId = route.id;
  $('conversations-view').classList.toggle('has-detail', route.id !== null);
  $('detail-pane').hidden = route.id === null;
  refresh();
}

// ---- sign-in -----------------------------------------------------------------------------------

$('phone-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  state.phone = $('phone').value.trim();
  try {
    const result = await api('/login', { method: 'POST', body: { phone: state.phone } });
    notice(result.message);
    $('phone-form').hidden = true;
    $('code-form').hidden = false;
    $('code').focus();
  } catch (error) {
    notice(error.message, 'error');
  }
});

$('code-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    state.session = await api('/verify', { method: 'POST', body: { phone: state.phone, code: $('code').value.trim() } });
    $('code').value = '';
    notice('');
    signedIn();
  } catch (error) {
    notice(error.message, 'error');
  }
});

$('code-back').addEventListener('click', () => {
  $('code-form').hidden = true;
  $('phone-form').hidden = false;
});

$('sign-out').addEventListener('click', async () => {
  await api('/logout', { method: 'POST' }).catch(() => undefined);
  signedOut('You are signed out.');
});

function signedIn() {
  $('who-number').textContent = state.session.staffNumber;
  if (!state.events) {
    // The stream says when something changed; the page then loads what it shows. EventSource
    // reconnects by itself after a network cut.
    state.events = new EventSource('/staff/api/events');
    state.events.addEventListener('ready', () => refresh());
    state.events.addEventListener('change', () => refresh());
  }
  applyRoute();
}

function signedOut(message) {
  state.session = null;
  state.events?.close();
  state.events = null;
  $('phone-form').hidden = false;
  $('code-form').hidden = true;
  show('sign-in');
  notice(message);
}

// ---- conversations -----------------------------------------------------------------------------

let refreshing = null;
let refreshAgain = false;
function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      if (state.view === 'uncovered') await loadUncovered();
      else {
        await loadList();
        if (state.currentId !== null) await loadDetail(state.currentId);
      }
    } catch (error) {
      if (error.status !== 401) notice(error.message, 'error');
    }
  })().finally(() => {
    refreshing = null;
    if (refreshAgain) {
      refreshAgain = false;
      refresh();
    }
  });
  return refreshing;
}

async function loadList() {
  state.conversations = await api('/conversations');
  const list = $('conversation-list');
  list.replaceChildren(
    ...state.conversations.map((c) => {
      const waiting = c.waitingSeconds !== null ? el('span', { className: 'waiting', text: `waiting ${duration(c.waitingSeconds)}` }) : null;
      const link = el(
        'a',
        { className: 'row', attrs: { href: `/staff/c/${c.id}`, 'data-state': c.state, 'data-id': String(c.id) } },
        el('span', { className: `badge ${c.state}`, text: STATE_LABELS[c.state] ?? c.state }),
        el('span', { className: 'who', text: phoneOf(c.patient) }),
        el('span', { className: 'channel', text: channelLabel(c) }),
        el('span', { className: 'when', text: ago(c.lastMessageAt) }),
        waiting,
      );
      if (c.id === state.currentId) link.setAttribute('aria-current', 'true');
      link.addEventListener('click', (event) => {
        event.preventDefault();
        navigate(`/staff/c/${c.id}`);
      });
      return el('li', {}, link);
    }),
  );
  $('list-empty').hidden = state.conversations.length > 0;
}

function sourcesText(sources) {
  return sources.map((s) => (s.heading ? `${s.title} › ${s.heading}` : s.title)).join('; ');
}

function messageItem(m) {
  if (m.type === 'action') {
    const who = m.by === 'system' ? '' : `${m.by} `;
    return el('li', { className: 'action', attrs: { 'data-type': 'action' } }, el('span', { text: `${who}${ACTION_LABELS[m.action] ?? m.action}` }), el('time', { text: clock(m.at), attrs: { datetime: m.at } }));
  }
  const incoming = m.type === 'in';
  const meta = [];
  if (incoming) {
    if (m.attention === 'emergency' || m.attention === 'self_harm') meta.push(m.attention === 'self_harm' ? 'self-harm risk' : 'possible emergency');
    if (m.attention === 'handoff') meta.push('asked for a person');
  } else {
    meta.push(m.origin === 'staff' && m.by ? `staff reply by ${m.by}` : ORIGIN_LABELS[m.origin] ?? m.origin);
    meta.push(m.status + (m.error ? ` (${m.error})` : ''));
    if (m.sources.length > 0) meta.push(`sources: ${sourcesText(m.sources)}`);
  }
  return el(
    'li',
    { className: incoming ? 'in' : `out ${m.origin}`, attrs: { 'data-type': m.type, 'data-status': m.status ?? '' } },
    el('p', { className: 'text', text: m.text || (incoming ? '(no text)' : '') }),
    el('p', { className: 'meta' }, el('time', { text: clock(m.at), attrs: { datetime: m.at } }), document.createTextNode(meta.length ? ` · ${meta.join(' · ')}` : '')),
  );
}

async function loadDetail(id) {
  let c;
  try {
    c = await api(`/conversations/${id}`);
  } catch (error) {
    if (error.status === 404) {
      notice('That conversation no longer exists.', 'error');
      navigate('/staff');
      return;
    }
    throw error;
  }
  if (id !== state.currentId) return;
  if (c.id !== id) history.replaceState(null, '', `/staff/c/${c.id}`);
  state.currentId = c.id;
  $('detail-title').textContent = phoneOf(c.patient);
  $('detail-meta').textContent = [
    channelLabel(c),
    STATE_LABELS[c.state] ?? c.state,
    c.waitingSeconds !== null ? `waiting ${duration(c.waitingSeconds)}` : null,
  ].filter(Boolean).join(' · ');
  $('detail-pane').dataset.state = c.state;

  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...c.messages.map(messageItem));
  if (atBottom) list.scrollTop = list.scrollHeight;

  const windowClosed = c.window.applies && !c.window.open;
  $('detail-window').textContent = !c.window.applies
    ? ''
    : c.window.open
      ? `WhatsApp window open until ${clock(c.window.closesAt)}`
      : "WhatsApp's 24-hour window is closed: the patient has not written for a day, so a normal reply would be refused.";
  $('detail-window').dataset.open = String(!windowClosed);
  $('take-over').hidden = c.paused;
  $('resume').hidden = !c.paused;
  const canReply = !c.optedOut && !windowClosed;
  $('reply-form').hidden = !canReply;
  $('template-box').hidden = !windowClosed || c.optedOut;
  if (windowClosed) {
    $('template-text').textContent = c.followUpTemplate
      ? `You can send the approved follow-up template (${c.followUpTemplate}), which asks the patient to write back; once they do, you can reply here.`
      : 'No follow-up template is configured (TWILIO_FOLLOWUP_CONTENT_SID or META_FOLLOWUP_TEMPLATE). Call the patient instead.';
    $('send-template').hidden = !c.followUpTemplate;
  }
  if (c.optedOut) notice('This patient opted out (STOP): they cannot be messaged until they write START.', 'error');
}

$('back').addEventListener('click', () => navigate('/staff'));

$('reply-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = $('reply').value.trim();
  if (!body || state.currentId === null) return;
  const button = event.submitter ?? $('reply-form').querySelector('button');
  button.disabled = true;
  try {
    await api(`/conversations/${state.currentId}/reply`, { method: 'POST', body: { body } });
    $('reply').value = '';
    notice('Reply queued: it appears below once sent. The assistant is paused for this patient.');
    await refresh();
  } catch (error) {
    notice(error.message, 'error');
  } finally {
    button.disabled = false;
  }
});

for (const [id, path, done] of [
  ['take-over', 'take-over', 'You have taken over: the assistant will not answer this patient until you hand back.'],
  ['resume', 'resume', 'Handed back: the assistant answers this patient again.'],
  ['send-template', 'template', 'Template sent.'],
]) {
  $(id).addEventListener('click', async () => {
    if (state.currentId === null) return;
    try {
      await api(`/conversations/${state.currentId}/${path}`, { method: 'POST' });
      notice(done);
      await refresh();
    } catch (error) {
      notice(error.message, 'error');
    }
  });
}

// ---- questions the documents did not answer ----------------------------------------------------

async function loadUncovered() {
  const { groups } = await api('/uncovered');
  $('uncovered-list').replaceChildren(
    ...groups.map((group) =>
      el(
        'li',
        { className: 'group' },
        el('p', { className: 'text', text: group.example }),
        el('p', { className: 'meta', text: `${group.count} ${group.count === 1 ? 'question' : 'questions'} · words: ${group.keywords.join(', ')}` }),
        group.count > 1
          ? el('details', {}, el('summary', { text: 'All questions' }), el('ul', {}, ...group.questions.map((q) => el('li', { text: q.text }))))
          : null,
      ),
    ),
  );
  $('uncovered-empty').hidden = groups.length > 0;
}

// ---- start -------------------------------------------------------------------------------------

for (const link of document.querySelectorAll('#nav a')) {
  link.addEventListener('click', (event) => {
    event.preventDefault();
    navigate(link.getAttribute('href'));
  });
}
window.addEventListener('popstate', applyRoute);

(async () => {
  try {
    state.session = await api('/session');
    signedIn();
  } catch {
    signedOut('');
  }
})();
