// <coaching-sessions>: a member's or a coach's sessions, as the help page describes them.
//
//   <link rel="stylesheet" href="https://api.example.com/app/coaching-sessions.css">  (optional)
//   <script type="module" src="https://api.example.com/app/coaching-sessions.js"></script>
//   <coaching-sessions api-base-url="https://api.example.com"></coaching-sessions>
//   <script type="module">
//     document.querySelector("coaching-sessions").getToken = async () => myAuth.idToken();
//   </script>
//
// Attributes: api-base-url (the API; the page's own origin when left out), viewer ("member",
// the default, or "coach"), timezone (an IANA zone; the browser's by default), locale (for
// dates; the browser's by default), stylesheet (a URL replacing coaching-sessions.css).
// Properties: getToken (an async function answering a bearer token; called before every
// request, so the host page decides how long to keep one), refresh() (reload everything).
// Events: "coaching-sessions:change" (bubbles, composed) after every change the person makes,
// with detail {action, session}.
// Theming: the CSS custom properties at the top of coaching-sessions.css, set on the element.
//
// No framework and no build step: plain modules, one shadow root, the platform's <dialog>.

import { ApiClient, Problem, newKey } from "./api-client.js";
import {
  Clock,
  bannerLines,
  credits,
  historyLines,
  isCalledOff,
  moveNeedsApproval,
  otherParty,
  policyLines,
  quoteWords,
  refundWords,
  sessionTitle,
  statusTag,
  who,
} from "./words.js";

const STYLESHEET = new URL("./coaching-sessions.css", import.meta.url).href;
const DAY_MS = 24 * 60 * 60 * 1000;
const PICKER_DAYS = 7;
const FOCUSABLE =
  "button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), " +
  "textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

/** A DOM element: attributes (on* are listeners, `text` the text), then children. */
function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2).toLowerCase(), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

let uid = 0;
function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A field's message in the screen's words: the API's sentences start with the field's name
 * ("reason is required ..."), which gives way to the field's label ("A reason is required ..."). */
function fieldMessage(subject, field, message) {
  let text = message.trim();
  if (field && text.startsWith(`${field} `)) text = `${subject} ${text.slice(field.length + 1)}`;
  else if (/^[a-z]/.test(text)) text = `${subject} ${text}`;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

class CoachingSessions extends HTMLElement {
  static get observedAttributes() {
    return ["api-base-url", "viewer", "timezone", "locale", "stylesheet"];
  }

  constructor() {
    super();
    this._getToken = null;
    this.loads = 0;
    this.state = {
      tab: "upcoming",
      lists: { upcoming: null, past: null },
      accounts: null,
      detailId: null,
      detail: null,
      notice: null,
      loadError: null,
    };
    const root = this.attachShadow({ mode: "open" });
    this.sheet = h("link", { rel: "stylesheet", href: STYLESHEET });
    this.live = h("div", { class: "cs-visually-hidden", role: "status", "aria-live": "polite" });
    this.frame = h("div", { class: "cs-frame", part: "frame" });
    this.dialog = h("dialog", { class: "cs-dialog", "aria-labelledby": "cs-dialog-title" });
    root.append(this.sheet, this.live, this.frame, this.dialog);
    this.dialog.addEventListener("keydown", (event) => this.trapFocus(event));
    this.dialog.addEventListener("cancel", (event) => {
      if (this.dialog.dataset.busy === "true") event.preventDefault(); // a request is on its way
    });
    this.dialog.addEventListener("close", () => this.afterDialog());
  }

  // --- the element's interface ---------------------------------------------------------------

  get getToken() {
    return this._getToken;
  }

  set getToken(callback) {
    this._getToken = callback;
    this.refresh();
  }

  get viewer() {
    return this.getAttribute("viewer") === "coach" ? "coach" : "member";
  }

  connectedCallback() {
    // A getToken the page set before this module defined the element is an own property of
    // the element, hiding the accessor: take it over.
    if (Object.prototype.hasOwnProperty.call(this, "getToken")) {
      const callback = this.getToken;
      delete this.getToken;
      this._getToken = callback;
    }
    this.sheet.href = this.getAttribute("stylesheet") || STYLESHEET;
    this.refresh();
  }

  attributeChangedCallback(name, before, after) {
    if (before === after || !this.isConnected) return;
    if (name === "stylesheet") {
      this.sheet.href = after || STYLESHEET;
      return;
    }
    this.refresh();
  }

  /** Reload the lists, the credits and the open session. */
  async refresh() {
    if (!this.isConnected) return;
    this.clock = new Clock(this.getAttribute("locale"), this.getAttribute("timezone"));
    this.api = new ApiClient(this.getAttribute("api-base-url") || "", this._getToken);
    if (!this._getToken || !this.rendered) this.render();
    if (!this._getToken) {
      this.render();
      return;
    }
    await this.load();
  }

  // --- data ----------------------------------------------------------------------------------

  async load() {
    const ticket = ++this.loads;
    const { detailId } = this.state;
    try {
      const [upcoming, past, accounts, detail] = await Promise.all([
        this.api.get("/sessions", { view: "upcoming", limit: 100 }),
        this.api.get("/sessions", { view: "past", limit: 20 }),
        this.viewer === "member" ? this.api.get("/accounts") : null,
        detailId ? this.api.get(`/sessions/${encodeURIComponent(detailId)}`) : null,
      ]);
      if (ticket !== this.loads) return; // a later load is on its way
      Object.assign(this.state, {
        lists: { upcoming, past },
        accounts: accounts ? accounts.items : null,
        detail: detailId ? detail : null,
        loadError: null,
      });
    } catch (problem) {
      if (ticket !== this.loads) return;
      this.state.loadError = problem instanceof Problem ? problem : new Problem({});
      if (detailId && problem.status === 404) this.state.detailId = null;
    }
    this.render({ onlyIfChanged: true });
  }

  async loadMore(view) {
    const list = this.state.lists[view];
    try {
      const page = await this.api.get("/sessions", {
        view,
        limit: 20,
        next_token: list.next_token,
      });
      list.items.push(...page.items);
      list.next_token = page.next_token;
      this.render({ focus: `row:${page.items[0]?.id}` });
    } catch (problem) {
      this.state.loadError = problem;
      this.render();
    }
  }

  announce(text) {
    this.live.textContent = "";
    setTimeout(() => {
      this.live.textContent = text;
    }, 50);
  }

  changed(action, session, notice) {
    this.state.notice = notice;
    this.announce(notice.text);
    this.dispatchEvent(
      new CustomEvent("coaching-sessions:change", {
        bubbles: true,
        composed: true,
        detail: { action, session },
      }),
    );
  }

  // --- rendering -----------------------------------------------------------------------------

  /** What the current screen shows, to redraw it only when that changes: a redraw replaces
   * the controls, and an open menu with them. */
  signature() {
    const { state } = this;
    const shown = state.detailId
      ? [state.detailId, state.detail]
      : [state.tab, state.lists, state.accounts, Boolean(this._getToken)];
    return JSON.stringify([shown, state.notice, state.loadError?.detail, this.viewer]);
  }

  /** Draw the current screen; keep focus on the control it was on (or on `focus`). */
  render({ focus, onlyIfChanged = false } = {}) {
    const signature = this.signature();
    if (onlyIfChanged && signature === this.drawn) return;
    this.drawn = signature;
    this.rendered = true;
    const active = this.shadowRoot.activeElement;
    const keep = focus || (active && active.dataset ? active.dataset.focus : null);
    const screen = this.state.detailId ? this.detailScreen() : this.listScreen();
    this.frame.replaceChildren(screen);
    if (keep) {
      const target = this.frame.querySelector(`[data-focus="${CSS.escape(keep)}"]`);
      if (target) target.focus();
    }
  }

  noticeBox() {
    const notice = this.state.notice;
    if (!notice) return null;
    return h(
      "div",
      { class: `cs-notice cs-tone-${notice.tone}`, tabindex: "-1", "data-focus": "notice" },
      h("p", { text: notice.text }),
    );
  }

  loadErrorBox() {
    const problem = this.state.loadError;
    if (!problem) return null;
    return h(
      "div",
      { class: "cs-notice cs-tone-bad", role: "alert" },
      h("p", { text: problem.detail }),
      h(
        "button",
        { type: "button", class: "cs-button", onclick: () => this.refresh() },
        "Try again",
      ),
    );
  }

  listScreen() {
    const { lists } = this.state;
    const screen = h(
      "section",
      { class: "cs-screen", "aria-labelledby": "cs-title" },
      h(
        "header",
        { class: "cs-header" },
        h(
          "div",
          {},
          h("h2", { id: "cs-title", class: "cs-title" }, "Sessions"),
          h("p", { class: "cs-muted cs-zone" }, `Times are shown in ${this.clock.timeZone}.`),
        ),
        this.creditsBox(),
      ),
      this.noticeBox(),
      this.loadErrorBox(),
    );
    if (!this._getToken) {
      screen.append(h("p", { class: "cs-muted" }, "Sign in to see your sessions."));
      return screen;
    }
    if (!lists.upcoming) {
      if (!this.state.loadError) {
        screen.append(h("p", { class: "cs-muted", role: "status" }, "Loading your sessions…"));
      }
      return screen;
    }
    if (this.viewer === "coach") screen.append(this.requestsBox());
    screen.append(this.tabs());
    return screen;
  }

  creditsBox() {
    const accounts = this.state.accounts;
    if (!accounts || !accounts.length) return null;
    return h(
      "dl",
      { class: "cs-credits", "aria-label": "Your credits" },
      accounts.map((account) =>
        h(
          "div",
          { class: "cs-credit" },
          h("dt", {}, account.kind === "PERSONAL" ? "Your credits" : account.name),
          h("dd", { "data-account-id": account.id }, credits(account.balance)),
        ),
      ),
    );
  }

  tabs() {
    const views = [
      ["upcoming", "Upcoming"],
      ["past", "Past"],
    ];
    const select = (view, focus) => {
      this.state.tab = view;
      this.render({ focus: focus ? `tab:${view}` : undefined });
    };
    const tablist = h(
      "div",
      {
        class: "cs-tabs",
        role: "tablist",
        "aria-label": "Sessions",
        onkeydown: (event) => {
          const at = views.findIndex(([view]) => view === this.state.tab);
          const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: views.length - 1 };
          if (!(event.key in moves)) return;
          event.preventDefault();
          const next = (moves[event.key] + views.length) % views.length;
          select(views[next][0], true);
        },
      },
      views.map(([view, label]) => {
        const chosen = this.state.tab === view;
        return h(
          "button",
          {
            type: "button",
            role: "tab",
            class: "cs-tab",
            id: `cs-tab-${view}`,
            "aria-selected": chosen ? "true" : "false",
            "aria-controls": `cs-panel-${view}`,
            tabindex: chosen ? "0" : "-1",
            "data-focus": `tab:${view}`,
            onclick: () => select(view, true),
          },
          label,
        );
      }),
    );
    const panels = views.map(([view, label]) =>
      h(
        "div",
        {
          role: "tabpanel",
          class: "cs-panel",
          id: `cs-panel-${view}`,
          "aria-labelledby": `cs-tab-${view}`,
          hidden: this.state.tab !== view,
        },
        this.sessionList(view, label),
      ),
    );
    return h("div", { class: "cs-tabset" }, tablist, panels);
  }

  sessionList(view) {
    const list = this.state.lists[view];
    if (!list.items.length) {
      return h(
        "p",
        { class: "cs-empty" },
        view === "upcoming" ? "No upcoming sessions." : "No past sessions yet.",
      );
    }
    return [
      h(
        "ul",
        { class: "cs-list", role: "list" },
        list.items.map((session) => h("li", { class: "cs-item" }, this.row(session))),
      ),
      list.next_token
        ? h(
            "button",
            {
              type: "button",
              class: "cs-button cs-more",
              "data-focus": `more:${view}`,
              onclick: () => this.loadMore(view),
            },
            "Show more",
          )
        : null,
    ];
  }

  tags(session) {
    const tag = statusTag(session.status);
    return h(
      "span",
      { class: "cs-tags" },
      h("span", { class: `cs-tag cs-tag-${tag.tone}` }, tag.text),
      session.reschedule_request
        ? h("span", { class: "cs-tag cs-tag-pending" }, "Move requested")
        : null,
    );
  }

  row(session) {
    return h(
      "button",
      {
        type: "button",
        class: "cs-row",
        "data-focus": `row:${session.id}`,
        "data-session-id": session.id,
        onclick: () => this.openDetail(session.id),
      },
      h(
        "span",
        { class: "cs-row-main" },
        h("span", { class: "cs-row-title" }, sessionTitle(session, this.viewer)),
        h(
          "span",
          { class: `cs-row-when${isCalledOff(session.status) ? " cs-struck" : ""}` },
          h("time", { datetime: session.start }, this.clock.range(session.start, session.end)),
        ),
      ),
      this.tags(session),
    );
  }

  /** The coach's "Waiting for your answer": booking and move requests to approve or decline. */
  requestsBox() {
    const waiting = this.state.lists.upcoming.items.filter(
      (s) => s.status === "REQUESTED" || s.reschedule_request,
    );
    const box = h(
      "section",
      { class: "cs-requests", "aria-labelledby": "cs-requests-title" },
      h("h3", { id: "cs-requests-title", class: "cs-subtitle" }, "Waiting for your answer"),
    );
    if (!waiting.length) {
      box.append(h("p", { class: "cs-muted" }, "No requests are waiting for you."));
      return box;
    }
    box.append(
      h(
        "ul",
        { class: "cs-list", role: "list" },
        waiting.map((session) => h("li", { class: "cs-request" }, this.requestCard(session))),
      ),
    );
    return box;
  }

  requestWords(session) {
    const member = session.member.name;
    if (session.status === "REQUESTED") {
      return [
        `${member} asks to book ${session.service.name} on ` +
          `${this.clock.range(session.start, session.end)}.`,
        `Answer by ${this.clock.at(session.request_expires_at)}, ` +
          `or it lapses and the credits go back.`,
      ];
    }
    const request = session.reschedule_request;
    const lines = [
      `${member} asks to move ${session.service.name} from ` +
        `${this.clock.range(session.start, session.end)} to ` +
        `${this.clock.range(request.start, request.end)}.`,
    ];
    if (request.reason) lines.push(`Reason: “${request.reason}”`);
    lines.push(`Answer by ${this.clock.at(request.expires_at)}, or it stays where it is.`);
    return lines;
  }

  /** A request with its Approve and Decline buttons (the coach's list and detail). */
  requestCard(session) {
    const textId = nextId("cs-request");
    const error = h("p", { class: "cs-error", role: "alert" });
    const isMove = session.status !== "REQUESTED";
    const base = `/sessions/${encodeURIComponent(session.id)}`;
    const path = isMove ? `${base}/reschedule-request` : base;
    const approve = h(
      "button",
      {
        type: "button",
        class: "cs-button cs-primary",
        "aria-describedby": textId,
        "data-focus": `approve:${session.id}`,
        onclick: () =>
          this.inlineAction(error, approve, async () => {
            const answer = await this.api.post(`${path}/approve`, {}, newKey());
            const moved = answer.body;
            this.changed(isMove ? "reschedule-approved" : "approved", moved, {
              tone: "good",
              text: isMove
                ? `Move approved: ${sessionTitle(moved, this.viewer)} is now on ` +
                  `${this.clock.range(moved.start, moved.end)}.`
                : `Booking approved: ${sessionTitle(moved, this.viewer)} on ` +
                  `${this.clock.range(moved.start, moved.end)}.`,
            });
          }),
      },
      isMove ? "Approve move" : "Approve booking",
    );
    const decline = h(
      "button",
      {
        type: "button",
        class: "cs-button",
        "aria-describedby": textId,
        "data-focus": `decline:${session.id}`,
        onclick: () => this.openDecline(session, isMove, path, decline),
      },
      "Decline",
    );
    return h(
      "div",
      { class: "cs-request-card" },
      h(
        "div",
        { id: textId },
        this.requestWords(session).map((line) => h("p", {}, line)),
      ),
      h("div", { class: "cs-actions" }, approve, decline),
      error,
    );
  }

  /** Run an action from a button on the page; its refusal is shown beside the button (or at
   * the top of the screen when, reloaded, the button is gone: the request was answered). */
  async inlineAction(errorSlot, button, action) {
    errorSlot.textContent = "";
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      await action();
      await this.load();
      this.focusNotice();
    } catch (problem) {
      const shown = problem instanceof Problem ? problem : new Problem({});
      await this.load(); // what is true now
      const again = this.frame.querySelector(`[data-focus="${CSS.escape(button.dataset.focus)}"]`);
      const slot = again?.closest(".cs-request-card, .cs-box")?.querySelector(".cs-error");
      if (again && slot) {
        slot.textContent = shown.detail;
        again.focus();
        return;
      }
      this.state.notice = { tone: "bad", text: shown.detail };
      this.announce(shown.detail);
      this.render({ focus: "notice" });
    }
  }

  focusNotice() {
    const notice = this.frame.querySelector('[data-focus="notice"]');
    if (notice) notice.focus();
  }

  // --- the session's own screen --------------------------------------------------------------

  openDetail(id) {
    this.state.detailId = id;
    this.state.notice = null;
    const { upcoming, past } = this.state.lists;
    this.state.detail =
      [...(upcoming?.items || []), ...(past?.items || [])].find((s) => s.id === id) || null;
    this.render({ focus: "detail-title" });
    this.load(); // keeps the focus where it is
  }

  closeDetail() {
    const id = this.state.detailId;
    this.state.detailId = null;
    this.state.detail = null;
    const { upcoming, past } = this.state.lists;
    const session = [...(upcoming?.items || []), ...(past?.items || [])].find((s) => s.id === id);
    if (session) this.state.tab = session.view === "past" ? "past" : "upcoming";
    this.render({ focus: `row:${id}` });
    if (!this.frame.contains(this.shadowRoot.activeElement)) {
      this.frame.querySelector(".cs-title")?.setAttribute("tabindex", "-1");
      this.frame.querySelector(".cs-title")?.focus();
    }
  }

  detailScreen() {
    const session = this.state.detail;
    const back = h(
      "button",
      {
        type: "button",
        class: "cs-button cs-back",
        "data-focus": "back",
        onclick: () => this.closeDetail(),
      },
      h("span", { "aria-hidden": "true" }, "←"),
      "All sessions",
    );
    if (!session) {
      return h(
        "section",
        { class: "cs-screen", "aria-labelledby": "cs-detail-title" },
        back,
        h(
          "h2",
          {
            id: "cs-detail-title",
            class: "cs-title",
            tabindex: "-1",
            "data-focus": "detail-title",
          },
          "Session",
        ),
        this.loadErrorBox() || h("p", { class: "cs-muted", role: "status" }, "Loading…"),
      );
    }
    const viewer = this.viewer;
    const upcoming = session.view === "upcoming";
    return h(
      "section",
      { class: "cs-screen", "aria-labelledby": "cs-detail-title" },
      back,
      h(
        "header",
        { class: "cs-detail-header" },
        h(
          "div",
          { class: "cs-detail-heading" },
          h(
            "h2",
            {
              id: "cs-detail-title",
              class: "cs-title",
              tabindex: "-1",
              "data-focus": "detail-title",
            },
            sessionTitle(session, viewer),
          ),
          h(
            "p",
            { class: `cs-when${isCalledOff(session.status) ? " cs-struck" : ""}` },
            h("time", { datetime: session.start }, this.clock.range(session.start, session.end)),
          ),
          h(
            "p",
            { class: "cs-muted" },
            `${session.session_type.minutes} minutes · ${credits(session.credits)}`,
          ),
          this.tags(session),
        ),
        this.menu(session),
      ),
      this.noticeBox(),
      this.loadErrorBox(),
      this.canceledBanner(session),
      this.noShowBox(session),
      this.pendingBox(session),
      this.refundBox(session),
      !session.cancellation ? this.rebookBox(session) : null,
      upcoming ? this.policyBox(session) : null,
      this.historyBox(session),
    );
  }

  historyBox(session) {
    const lines = historyLines(session, this.viewer, this.clock);
    if (!lines.length) return null;
    return h(
      "section",
      { class: "cs-box cs-history", "aria-labelledby": "cs-history-title" },
      h("h3", { id: "cs-history-title", class: "cs-subtitle" }, "History"),
      h(
        "ol",
        {},
        lines.map((line) =>
          h(
            "li",
            {},
            h("time", { datetime: line.at, class: "cs-muted" }, this.clock.at(line.at)),
            " ",
            line.text,
          ),
        ),
      ),
    );
  }

  canceledBanner(session) {
    if (!session.cancellation) return null;
    return h(
      "div",
      { class: "cs-banner cs-box", role: "region", "aria-labelledby": "cs-banner-title" },
      h("h3", { id: "cs-banner-title", class: "cs-subtitle" }, "This session is canceled"),
      bannerLines(session, this.viewer, this.clock).map((line) => h("p", {}, line)),
      this.rebookButton(session),
    );
  }

  noShowBox(session) {
    if (!session.no_show) return null;
    const absent = session.no_show.party === "MEMBER" ? session.member.name : session.coach.name;
    return h(
      "div",
      { class: "cs-banner cs-box" },
      h("h3", { class: "cs-subtitle" }, "Marked as a no-show"),
      h(
        "p",
        {},
        `${absent} did not attend; marked by ` +
          `${who(session.no_show.marked_by, session, this.viewer)} ` +
          `on ${this.clock.at(session.no_show.marked_at)}.`,
      ),
    );
  }

  refundBox(session) {
    if (session.cancellation) return null; // the banner says it
    const words = refundWords(session, this.viewer);
    if (!words) return null;
    return h("div", { class: "cs-box" }, h("p", {}, words));
  }

  rebookButton(session) {
    if (!session.rebook) return null;
    const button = h(
      "button",
      {
        type: "button",
        class: "cs-button cs-primary",
        "data-focus": "rebook",
        onclick: () => this.openRebook(session, button),
      },
      "Schedule Session",
    );
    return h("div", { class: "cs-actions" }, button);
  }

  rebookBox(session) {
    const button = this.rebookButton(session);
    if (!button) return null;
    return h(
      "div",
      { class: "cs-box" },
      h("p", {}, `Book another session with ${session.coach.name}.`),
      button,
    );
  }

  pendingBox(session) {
    const viewer = this.viewer;
    if (viewer === "coach" && (session.status === "REQUESTED" || session.reschedule_request)) {
      if (session.view !== "upcoming") return null;
      return h(
        "div",
        { class: "cs-box cs-pending" },
        h("h3", { class: "cs-subtitle" }, "Waiting for your answer"),
        this.requestCard(session),
      );
    }
    if (session.status === "REQUESTED") {
      return h(
        "div",
        { class: "cs-box cs-pending" },
        h("h3", { class: "cs-subtitle" }, "Waiting for your coach"),
        h(
          "p",
          {},
          `${session.coach.name} has until ${this.clock.at(session.request_expires_at)} to ` +
            `accept this booking. If they don't, your credits come back.`,
        ),
      );
    }
    const request = session.reschedule_request;
    if (!request) return null;
    const error = h("p", { class: "cs-error", role: "alert" });
    const withdraw = h(
      "button",
      {
        type: "button",
        class: "cs-button",
        "data-focus": "withdraw",
        onclick: () =>
          this.inlineAction(error, withdraw, async () => {
            const answer = await this.api.post(
              `/sessions/${encodeURIComponent(session.id)}/reschedule-request/withdraw`,
              {},
              newKey(),
            );
            const kept = answer.body;
            this.changed("reschedule-withdrawn", kept, {
              tone: "good",
              text:
                `Request withdrawn: the session stays on ` +
                `${this.clock.range(kept.start, kept.end)}.`,
            });
          }),
      },
      "Withdraw request",
    );
    return h(
      "div",
      { class: "cs-box cs-pending" },
      h("h3", { class: "cs-subtitle" }, "Move requested"),
      h(
        "p",
        {},
        `You asked to move this session to ${this.clock.range(request.start, request.end)}. ` +
          `${session.coach.name} must approve it by ${this.clock.at(request.expires_at)}; ` +
          `until then it stays at its current time.`,
      ),
      h("div", { class: "cs-actions" }, withdraw),
      error,
    );
  }

  policyBox(session) {
    return h(
      "section",
      { class: "cs-box cs-policy", "aria-labelledby": "cs-policy-title" },
      h(
        "h3",
        { id: "cs-policy-title", class: "cs-subtitle" },
        "Cancellation and reschedule policy",
      ),
      h(
        "ul",
        {},
        policyLines(session, this.viewer, this.clock).map((line) => h("li", {}, line)),
      ),
    );
  }

  // --- the three-dot menu --------------------------------------------------------------------

  menuItems(session) {
    const { actions } = session;
    const items = [];
    if (actions.can_reschedule) items.push(["Reschedule", (b) => this.openReschedule(session, b)]);
    if (actions.can_cancel) items.push(["Cancel", (b) => this.openCancel(session, b)]);
    if (actions.can_mark_no_show && this.viewer === "coach") {
      items.push(["Mark no-show", (b) => this.openNoShow(session, b)]);
    }
    if (actions.can_refund) items.push(["Refund credits", (b) => this.openRefund(session, b)]);
    return items;
  }

  menu(session) {
    const items = this.menuItems(session);
    if (!items.length) return null;
    const listId = nextId("cs-menu");
    const button = h(
      "button",
      {
        type: "button",
        class: "cs-button cs-menu-button",
        "aria-haspopup": "menu",
        "aria-expanded": "false",
        "aria-controls": listId,
        "aria-label": "Session actions",
        "data-focus": "menu",
      },
      h("span", { "aria-hidden": "true" }, "⋮"),
    );
    const entries = items.map(([label, run]) =>
      h(
        "li",
        { role: "none" },
        h(
          "button",
          {
            type: "button",
            role: "menuitem",
            tabindex: "-1",
            class: "cs-menu-item",
            onclick: () => {
              close(false);
              run(button);
            },
          },
          label,
        ),
      ),
    );
    const list = h(
      "ul",
      {
        role: "menu",
        id: listId,
        class: "cs-menu-list",
        "aria-label": "Session actions",
        hidden: true,
      },
      entries,
    );
    const itemButtons = () => [...list.querySelectorAll("[role=menuitem]")];
    const open = (at) => {
      list.hidden = false;
      button.setAttribute("aria-expanded", "true");
      const all = itemButtons();
      all[(at + all.length) % all.length].focus();
    };
    const close = (refocus) => {
      list.hidden = true;
      button.setAttribute("aria-expanded", "false");
      if (refocus) button.focus();
    };
    button.addEventListener("click", () => (list.hidden ? open(0) : close(true)));
    button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        open(0);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        open(-1);
      }
    });
    list.addEventListener("keydown", (event) => {
      const all = itemButtons();
      const at = all.indexOf(this.shadowRoot.activeElement);
      const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: all.length - 1 };
      if (event.key in moves) {
        event.preventDefault();
        all[(moves[event.key] + all.length) % all.length].focus();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close(true);
      } else if (event.key === "Tab") {
        close(false);
      }
    });
    const wrapper = h("div", { class: "cs-menu" }, button, list);
    wrapper.addEventListener("focusout", (event) => {
      if (!wrapper.contains(event.relatedTarget)) close(false);
    });
    return wrapper;
  }

  // --- dialogs -------------------------------------------------------------------------------

  trapFocus(event) {
    if (event.key !== "Tab") return;
    const focusable = [...this.dialog.querySelectorAll(FOCUSABLE)].filter(
      (element) => !element.closest("[hidden]") && element.getClientRects().length,
    );
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const active = this.shadowRoot.activeElement;
    if (event.shiftKey && (active === first || !this.dialog.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !this.dialog.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  }

  /** Open the dialog with `content`; focus returns to `opener` when it closes. */
  showDialog(title, content, opener, describedBy) {
    this.dialogOpener = opener;
    this.dialog.dataset.busy = "false";
    this.dialog.replaceChildren(
      h("h2", { id: "cs-dialog-title", class: "cs-dialog-title" }, title),
      content,
    );
    if (describedBy) this.dialog.setAttribute("aria-describedby", describedBy);
    else this.dialog.removeAttribute("aria-describedby");
    if (!this.dialog.open) this.dialog.showModal();
    const first =
      this.dialog.querySelector("[data-autofocus]") || this.dialog.querySelector(FOCUSABLE);
    first?.focus();
  }

  afterDialog() {
    this.dialog.replaceChildren();
    const opener = this.dialogOpener;
    this.dialogOpener = null;
    if (!opener) return; // done() puts the focus on the notice
    if (opener.isConnected) {
      opener.focus();
    } else {
      // The screen was redrawn behind the dialog: the same control, or the session's title.
      const again = opener.dataset.focus
        ? this.frame.querySelector(`[data-focus="${CSS.escape(opener.dataset.focus)}"]`)
        : null;
      (again || this.frame.querySelector('[data-focus="detail-title"], .cs-title'))?.focus();
    }
  }

  /** A labelled text box, with the slot its refusals are shown in. */
  textField({
    name,
    label,
    subject,
    hint,
    required = false,
    multiline = true,
    type = "text",
    value,
  }) {
    const id = nextId(`cs-${name}`);
    const errorId = `${id}-error`;
    const hintId = hint ? `${id}-hint` : null;
    const control = h(multiline ? "textarea" : "input", {
      id,
      name,
      class: "cs-input",
      type: multiline ? null : type,
      rows: multiline ? "3" : null,
      maxlength: multiline ? "500" : null,
      "aria-required": required ? "true" : null,
      "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
      value,
    });
    return h(
      "div",
      { class: "cs-field" },
      h("label", { for: id }, label),
      hint ? h("p", { id: hintId, class: "cs-hint" }, hint) : null,
      control,
      h("p", {
        id: errorId,
        class: "cs-field-error",
        "data-error-for": name,
        "data-label": subject || label,
      }),
    );
  }

  /**
   * A dialog's form: `body`, the slot for refusals not about one field (just above the buttons),
   * and the buttons. `submit(values)` does the work; a refusal is placed next to its field (or
   * above the buttons), then `refused(problem)` may reload what the dialog shows, and the
   * screen behind it is reloaded too.
   */
  form({ body, submitLabel, dismissLabel = "Close", danger = false, submit, refused, near }) {
    const general = h("p", { class: "cs-form-error", role: "alert", tabindex: "-1" });
    const submitButton = h(
      "button",
      { type: "submit", class: `cs-button ${danger ? "cs-danger" : "cs-primary"}` },
      submitLabel,
    );
    const dismiss = h(
      "button",
      { type: "button", class: "cs-button", onclick: () => this.dialog.close() },
      dismissLabel,
    );
    const form = h(
      "form",
      { class: "cs-form", novalidate: true },
      body,
      general,
      h("div", { class: "cs-actions cs-dialog-actions" }, dismiss, submitButton),
    );
    // A refusal that names no field is about what `near` holds (the free times), else about
    // the confirmation itself: it is shown there.
    form.problemSlot = near || general;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      this.clearProblems(form);
      const values = Object.fromEntries(new FormData(form).entries());
      this.dialog.dataset.busy = "true";
      form.setAttribute("aria-busy", "true");
      submitButton.disabled = true;
      try {
        await submit(values);
      } catch (problem) {
        const shown = problem instanceof Problem ? problem : new Problem({});
        // What the dialog and the screen behind it show becomes what is true now, then the
        // refusal is said next to what it is about.
        await Promise.all([refused ? refused(shown).catch(() => {}) : null, this.load()]);
        this.showProblem(form, shown);
      } finally {
        this.dialog.dataset.busy = "false";
        form.removeAttribute("aria-busy");
        submitButton.disabled = false;
      }
    });
    return form;
  }

  clearProblems(form) {
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
    for (const control of form.querySelectorAll("[aria-invalid]")) {
      control.removeAttribute("aria-invalid");
    }
    form.querySelector(".cs-form-error").textContent = "";
  }

  /** Each field error beside its field; the problem's own words above the buttons otherwise. */
  showProblem(form, problem) {
    let first = null;
    let unplaced = !problem.errors.length;
    for (const error of problem.errors) {
      const parts = String(error.field || "").split(".");
      const slot = [error.field, parts[parts.length - 1], parts[0]]
        .map((name) => form.querySelector(`[data-error-for="${CSS.escape(name)}"]`))
        .find(Boolean);
      if (!slot) {
        unplaced = true;
        continue;
      }
      slot.textContent = fieldMessage(
        slot.dataset.label,
        String(error.field || ""),
        String(error.message || ""),
      );
      const control = form.querySelector(`[name="${CSS.escape(slot.dataset.errorFor)}"]`);
      control?.setAttribute("aria-invalid", "true");
      first = first || control || slot;
    }
    const general = form.problemSlot;
    if (unplaced) general.textContent = problem.detail;
    (first && !unplaced ? first : general).focus();
  }

  /** A dialog's change went through: close it, show what is true now, then say what happened
   * (the notice takes the focus, where the opener may be gone). */
  async done(action, session, notice) {
    this.changed(action, session, notice);
    this.dialogOpener = null;
    this.dialog.close();
    await this.load();
    this.focusNotice();
  }

  sessionLine(session) {
    return h(
      "p",
      { class: "cs-dialog-session" },
      h("strong", {}, sessionTitle(session, this.viewer)),
      h("br"),
      h("time", { datetime: session.start }, this.clock.range(session.start, session.end)),
    );
  }

  // Cancel: the quote's words first, then the reason, then the confirmation.
  async openCancel(session, opener) {
    const viewer = this.viewer;
    const key = newKey();
    const path = `/sessions/${encodeURIComponent(session.id)}`;
    const quoteId = nextId("cs-quote");
    const quoteBox = h(
      "div",
      { id: quoteId, class: "cs-quote", "aria-live": "polite" },
      "Checking whether it is refundable…",
    );
    let quote = null;
    const showQuote = async () => {
      quote = await this.api.get(`${path}/cancellation`);
      const words = quoteWords(quote, session, viewer, this.clock);
      quoteBox.className = `cs-quote cs-tone-${words.tone}`;
      quoteBox.replaceChildren(h("strong", {}, words.headline), h("p", {}, words.detail));
    };
    const required = viewer === "member" && session.policy.cancel_reason_required;
    const form = this.form({
      body: [
        this.sessionLine(session),
        quoteBox,
        this.textField({
          name: "reason",
          label: `Reason for canceling (${required ? "required" : "optional"})`,
          subject: "A reason",
          hint:
            viewer === "member"
              ? `${session.coach.name} can read this on the session record.`
              : `${session.member.name} can read this on the session record.`,
          required,
        }),
      ],
      dismissLabel: "Keep session",
      submitLabel: "Cancel session",
      danger: true,
      submit: async ({ reason }) => {
        if (!quote) await showQuote();
        const answer = await this.api.post(
          `${path}/cancel`,
          { reason: reason || null, expected_refund_credits: quote.refund_credits },
          key,
        );
        const canceled = answer.body;
        const refunded = refundWords(canceled, viewer);
        await this.done("canceled", canceled, {
          tone: "good",
          text: `Session canceled. ${refunded || "It was not refunded."}`,
        });
      },
      refused: async (problem) => {
        if (problem.code === "QUOTE_CHANGED") {
          await showQuote();
          problem.detail += " The new terms are above: cancel again to accept them.";
        }
      },
    });
    this.showDialog("Confirm cancellation?", form, opener, quoteId);
    try {
      await showQuote();
    } catch (problem) {
      this.showProblem(form, problem instanceof Problem ? problem : new Problem({}));
    }
  }

  // Reschedule: a free time of the same service, then 200 (moved) or 202 (the coach decides).
  openReschedule(session, opener) {
    const key = newKey();
    const needsApproval = moveNeedsApproval(session, this.viewer);
    const picker = this.slotPicker(session.service.id, session.session_type.id);
    const form = this.form({
      body: [
        this.sessionLine(session),
        needsApproval
          ? h(
              "p",
              { class: "cs-quote cs-tone-warn", id: "cs-move-approval" },
              `The free window has closed, so ${session.coach.name} must approve this move. ` +
                `Until they do, the session stays at its current time.`,
            )
          : null,
        picker.element,
        this.textField({
          name: "reason",
          label: "Reason (optional)",
          hint: `${otherParty(session, this.viewer).name} can read this.`,
        }),
      ],
      submitLabel: needsApproval ? "Request move" : "Reschedule",
      near: picker.errorSlot,
      submit: async ({ reason }) => {
        const start = picker.value();
        if (!start) {
          throw new Problem({
            code: "VALIDATION_FAILED",
            detail: "Choose a new time first.",
            errors: [{ field: "start", message: "Choose a new time first" }],
          });
        }
        const answer = await this.api.post(
          `/sessions/${encodeURIComponent(session.id)}/reschedule`,
          { start, reason: reason || null },
          key,
        );
        if (answer.status === 202) {
          const { session: waiting, reschedule_request: request } = answer.body;
          await this.done("reschedule-requested", waiting, {
            tone: "warn",
            text:
              `Move requested: ${waiting.coach.name} must approve moving it to ` +
              `${this.clock.range(request.start, request.end)} by ` +
              `${this.clock.at(request.expires_at)}. Until then it stays on ` +
              `${this.clock.range(waiting.start, waiting.end)}.`,
          });
          return;
        }
        const moved = answer.body;
        await this.done("rescheduled", moved, {
          tone: "good",
          text: `Rescheduled: the session is now on ${this.clock.range(moved.start, moved.end)}.`,
        });
      },
      refused: () => picker.load(),
    });
    this.showDialog("Reschedule session", form, opener, needsApproval ? "cs-move-approval" : null);
    picker.load();
  }

  // "Schedule Session": the same coach, service and length, at a free time.
  openRebook(session, opener) {
    const key = newKey();
    const { rebook } = session;
    const picker = this.slotPicker(rebook.service_id, rebook.session_type_id);
    const accounts = this.state.accounts || [];
    const accountId = nextId("cs-account");
    const paying = accounts.length
      ? h(
          "div",
          { class: "cs-field" },
          h("label", { for: accountId }, "Pay from"),
          h(
            "select",
            {
              id: accountId,
              name: "account_id",
              class: "cs-input",
              "aria-describedby": `${accountId}-error`,
            },
            accounts.map((account) =>
              h(
                "option",
                { value: account.id, selected: account.id === session.account_id },
                `${account.kind === "PERSONAL" ? "Your credits" : account.name} ` +
                  `(${credits(account.balance)} left)`,
              ),
            ),
          ),
          h("p", {
            id: `${accountId}-error`,
            class: "cs-field-error",
            "data-error-for": "account_id",
            "data-label": "Pay from",
          }),
        )
      : null;
    const form = this.form({
      body: [
        h(
          "p",
          { class: "cs-dialog-session" },
          `${session.service.name}, ${session.session_type.minutes} minutes, ` +
            `${credits(session.session_type.credits)}.`,
        ),
        picker.element,
        paying,
      ],
      submitLabel: "Book session",
      near: picker.errorSlot,
      submit: async ({ account_id: account }) => {
        const start = picker.value();
        if (!start) {
          throw new Problem({
            code: "VALIDATION_FAILED",
            detail: "Choose a time first.",
            errors: [{ field: "start", message: "Choose a time first" }],
          });
        }
        const answer = await this.api.post(
          "/sessions",
          {
            service_id: rebook.service_id,
            session_type_id: rebook.session_type_id,
            start,
            account_id: account || null,
          },
          key,
        );
        const booked = answer.body;
        this.state.detailId = null;
        this.state.tab = "upcoming";
        await this.done("booked", booked, {
          tone: "good",
          text:
            booked.status === "REQUESTED"
              ? `Requested: ${booked.coach.name} has until ` +
                `${this.clock.at(booked.request_expires_at)} to accept ` +
                `${this.clock.range(booked.start, booked.end)}.`
              : `Booked: ${this.clock.range(booked.start, booked.end)} with ${booked.coach.name}.`,
        });
      },
      refused: () => picker.load(),
    });
    this.showDialog(`Schedule a session with ${session.coach.name}`, form, opener);
    picker.load();
  }

  openDecline(session, isMove, path, opener) {
    const key = newKey();
    const form = this.form({
      body: [
        this.sessionLine(session),
        h(
          "p",
          {},
          isMove
            ? "The session keeps its current time."
            : "The member's credits go back to the account they paid from.",
        ),
        this.textField({
          name: "reason",
          label: "Reason (optional)",
          hint: `${session.member.name} will read this.`,
        }),
      ],
      submitLabel: isMove ? "Decline move" : "Decline booking",
      danger: true,
      submit: async ({ reason }) => {
        const answer = await this.api.post(`${path}/decline`, { reason: reason || null }, key);
        await this.done(isMove ? "reschedule-declined" : "declined", answer.body, {
          tone: "good",
          text: isMove
            ? "Move declined: the session keeps its time."
            : "Booking declined: the credits went back to the member.",
        });
      },
    });
    this.showDialog(isMove ? "Decline this move?" : "Decline this booking?", form, opener);
  }

  openNoShow(session, opener) {
    const key = newKey();
    const form = this.form({
      body: [
        this.sessionLine(session),
        h(
          "p",
          {},
          `${session.member.name} did not attend. They get no credits back, and both of you ` +
            `are told by email.`,
        ),
      ],
      submitLabel: "Mark no-show",
      danger: true,
      submit: async () => {
        const answer = await this.api.post(
          `/sessions/${encodeURIComponent(session.id)}/no-show`,
          { party: "MEMBER" },
          key,
        );
        await this.done("no-show", answer.body, {
          tone: "good",
          text: `${session.member.name} is marked as a no-show.`,
        });
      },
    });
    this.showDialog(`Mark ${session.member.name} as a no-show?`, form, opener);
  }

  openRefund(session, opener) {
    const key = newKey();
    const left = session.credits - (session.refund ? session.refund.credits : 0);
    const form = this.form({
      body: [
        this.sessionLine(session),
        h(
          "p",
          {},
          `${credits(session.credits)} paid, ${credits(session.credits - left)} refunded so far. ` +
            `The credits go back to the account ${session.member.name} paid from.`,
        ),
        this.textField({
          name: "credits",
          label: "Credits to refund",
          subject: "The number of credits",
          multiline: false,
          type: "number",
          value: String(left),
        }),
        this.textField({ name: "note", label: "Note (optional)" }),
      ],
      submitLabel: "Refund",
      submit: async ({ credits: count, note }) => {
        const number = Number(count);
        const answer = await this.api.post(
          `/sessions/${encodeURIComponent(session.id)}/refund`,
          {
            credits: Number.isInteger(number) && count !== "" ? number : count,
            note: note || null,
          },
          key,
        );
        await this.done("refunded", answer.body, {
          tone: "good",
          text: `Refunded: ${refundWords(answer.body, this.viewer)}`,
        });
      },
    });
    this.showDialog("Refund credits", form, opener);
  }

  // --- free times ----------------------------------------------------------------------------

  /** Days, then times, of a service's free starts, a week at a time. */
  slotPicker(serviceId, sessionTypeId) {
    const clock = this.clock;
    const nav = h("div", { class: "cs-picker-nav" });
    const days = h("fieldset", { class: "cs-days" });
    const times = h("fieldset", { class: "cs-times" });
    const errorSlot = h("p", {
      class: "cs-field-error",
      role: "alert",
      tabindex: "-1",
      "data-error-for": "start",
      "data-label": "The time",
    });
    const element = h("div", { class: "cs-picker" }, nav, days, times, errorSlot);
    let from = Date.now();
    let slots = [];
    let day = null;
    let chosen = null;

    const drawTimes = () => {
      const today = slots.filter((slot) => clock.dayKey(slot.start) === day);
      times.replaceChildren(
        h("legend", {}, today.length ? `Times on ${clock.longDay(today[0].start)}` : "Times"),
      );
      for (const slot of today) {
        const id = nextId("cs-time");
        times.append(
          h(
            "span",
            { class: "cs-choice" },
            h("input", {
              type: "radio",
              name: "start",
              id,
              value: slot.start,
              checked: slot.start === chosen,
              onchange: () => {
                chosen = slot.start;
              },
            }),
            h("label", { for: id }, clock.time(slot.start)),
          ),
        );
      }
    };

    const draw = (message) => {
      const earliest = Date.now();
      const until = from + PICKER_DAYS * DAY_MS;
      nav.replaceChildren(
        h(
          "button",
          {
            type: "button",
            class: "cs-button",
            disabled: from <= earliest + 60 * 1000,
            onclick: () => {
              from = Math.max(earliest, from - PICKER_DAYS * DAY_MS);
              load();
            },
          },
          h("span", { "aria-hidden": "true" }, "‹"),
          "Earlier",
        ),
        h(
          "span",
          { class: "cs-picker-range", "aria-live": "polite" },
          `${clock.day(new Date(from).toISOString())} – ` +
            `${clock.day(new Date(until - 1).toISOString())}`,
        ),
        h(
          "button",
          {
            type: "button",
            class: "cs-button",
            onclick: () => {
              from = until;
              load();
            },
          },
          "Later",
          h("span", { "aria-hidden": "true" }, "›"),
        ),
      );
      days.replaceChildren(h("legend", {}, "Day"));
      times.replaceChildren();
      times.hidden = true;
      if (message) {
        days.append(h("p", { class: "cs-muted" }, message));
        return;
      }
      const keys = [...new Set(slots.map((slot) => clock.dayKey(slot.start)))];
      if (!keys.length) {
        days.append(h("p", { class: "cs-muted" }, "No free times on these days: try later ones."));
        return;
      }
      if (!keys.includes(day)) day = keys[0];
      for (const key of keys) {
        const first = slots.find((slot) => clock.dayKey(slot.start) === key);
        const count = slots.filter((slot) => clock.dayKey(slot.start) === key).length;
        const id = nextId("cs-day");
        days.append(
          h(
            "span",
            { class: "cs-choice" },
            h("input", {
              type: "radio",
              name: "day",
              id,
              value: key,
              checked: key === day,
              onchange: () => {
                day = key;
                drawTimes();
              },
            }),
            h(
              "label",
              { for: id },
              clock.day(first.start),
              h("span", { class: "cs-count" }, `(${count} free)`),
            ),
          ),
        );
      }
      times.hidden = false;
      drawTimes();
    };

    const load = async () => {
      draw("Finding free times…");
      try {
        const answer = await this.api.get(`/services/${encodeURIComponent(serviceId)}/slots`, {
          session_type_id: sessionTypeId,
          from: new Date(from).toISOString(),
          to: new Date(from + PICKER_DAYS * DAY_MS).toISOString(),
        });
        slots = answer.items;
        if (chosen && !slots.some((slot) => slot.start === chosen)) chosen = null;
        draw();
      } catch (problem) {
        draw(problem instanceof Problem ? problem.detail : "The free times could not be loaded.");
      }
    };

    return { element, errorSlot, load, value: () => chosen };
  }
}

if (!customElements.get("coaching-sessions")) {
  customElements.define("coaching-sessions", CoachingSessions);
}

export { CoachingSessions };
