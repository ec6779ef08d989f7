// What the screens say: times on the viewer's clock, status tags, the quote, the canceled banner
// and the policy, worked out from the API's answers (docs/api.md). Pure functions of their
// arguments, so the element only decides where the words go.

/** Times in one zone and locale: the viewer's, unless the host page names others. */
export class Clock {
  constructor(locale, timeZone) {
    this.timeZone = timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    this.locale = locale || undefined;
    const zone = { timeZone: this.timeZone };
    this.dateTimeFormat = new Intl.DateTimeFormat(this.locale, {
      ...zone,
      weekday: "short",
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
      timeZoneName: "short",
    });
    this.timeFormat = new Intl.DateTimeFormat(this.locale, {
      ...zone,
      hour: "2-digit",
      minute: "2-digit",
    });
    this.dayFormat = new Intl.DateTimeFormat(this.locale, {
      ...zone,
      weekday: "short",
      day: "numeric",
      month: "short",
    });
    this.longDayFormat = new Intl.DateTimeFormat(this.locale, {
      ...zone,
      weekday: "long",
      day: "numeric",
      month: "long",
    });
    this.dayKeyFormat = new Intl.DateTimeFormat("en-CA", {
      ...zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    });
  }

  /** "Thu 10 Dec, 14:00 GMT" */
  at(iso) {
    return this.dateTimeFormat.format(new Date(iso));
  }

  /** "Thu 10 Dec, 14:00 – 15:00 GMT" */
  range(startIso, endIso) {
    const start = new Date(startIso);
    const end = new Date(endIso);
    if (typeof this.dateTimeFormat.formatRange === "function") {
      return this.dateTimeFormat.formatRange(start, end);
    }
    return `${this.dateTimeFormat.format(start)} – ${this.timeFormat.format(end)}`;
  }

  /** "14:00" */
  time(iso) {
    return this.timeFormat.format(new Date(iso));
  }

  /** "Thu 10 Dec" */
  day(iso) {
    return this.dayFormat.format(new Date(iso));
  }

  /** "Thursday 10 December" */
  longDay(iso) {
    return this.longDayFormat.format(new Date(iso));
  }

  /** The calendar day on the viewer's clock, as "2026-12-10": free times are grouped by it. */
  dayKey(iso) {
    return this.dayKeyFormat.format(new Date(iso));
  }
}

export function credits(count) {
  return count === 1 ? "1 credit" : `${count} credits`;
}

export function hours(count) {
  return count === 1 ? "1 hour" : `${count} hours`;
}

const STATUSES = {
  REQUESTED: ["Awaiting coach", "pending"],
  SCHEDULED: ["Scheduled", "scheduled"],
  CANCELED: ["Session canceled", "canceled"],
  COMPLETED: ["Completed", "done"],
  DECLINED: ["Declined", "canceled"],
  EXPIRED: ["Expired", "canceled"],
  NO_SHOW: ["No-show", "canceled"],
};

/** The tag of a status: its words and its tone (a class name). A status this page does not
 * know yet still shows, in its own words. */
export function statusTag(status) {
  const [text, tone] = STATUSES[status] || [
    status.charAt(0) + status.slice(1).toLowerCase().replaceAll("_", " "),
    "done",
  ];
  return { text, tone };
}

/** Whether a status ended the session without it taking place (struck through in lists). */
export function isCalledOff(status) {
  return ["CANCELED", "DECLINED", "EXPIRED"].includes(status);
}

/** The other side of the session, as the viewer sees it. */
export function otherParty(session, viewer) {
  return viewer === "coach" ? session.member : session.coach;
}

/** "Career coaching with Colin Coach" */
export function sessionTitle(session, viewer) {
  return `${session.service.name} with ${otherParty(session, viewer).name}`;
}

function accountWords(session, viewer) {
  const account = session.account;
  if (!account || account.kind === "PERSONAL") {
    return viewer === "coach" ? "the member's personal account" : "your personal account";
  }
  return account.name;
}

/** Who did something, in the viewer's words: "you", "Colin Coach (your coach)", "support". */
export function who(actor, session, viewer) {
  if (!actor) return "the system";
  if (actor.role === viewer) return "you";
  if (actor.role === "member") return `${session.member.name} (the member)`;
  if (actor.role === "coach") return `${session.coach.name} (your coach)`;
  if (actor.role === "support") return "support";
  return actor.role;
}

/** What the confirmation dialog says about the refund before a cancel:
 * {tone, headline, detail}. */
export function quoteWords(quote, session, viewer, clock) {
  const paid = session.credits;
  const whose = viewer === "coach" ? "The member's" : "Your";
  const where = accountWords(session, viewer);
  if (quote.refund_credits > 0 && quote.refund_credits >= paid) {
    return {
      tone: "good",
      headline: "Refundable",
      detail:
        `${whose} ${credits(paid)} will be refunded to ${where}. ` +
        `Free cancellation lasts until ${clock.at(quote.refundable_until)}.`,
    };
  }
  if (quote.refund_credits > 0) {
    return {
      tone: "warn",
      headline: "Partly refundable",
      detail:
        `${credits(quote.refund_credits)} of ${paid} (${quote.refund_percent}%) will be ` +
        `refunded to ${where} if the session is canceled before ` +
        `${clock.at(quote.refundable_until)}.`,
    };
  }
  const after =
    viewer === "coach"
      ? "You can refund the member afterwards if you choose."
      : "You can still cancel; your coach may choose to refund you.";
  return {
    tone: "bad",
    headline: "Not refundable",
    detail:
      `The free cancellation window closed at ${clock.at(quote.refundable_until)}: ` +
      `${whose.toLowerCase()} ${credits(paid)} will not be refunded. ${after}`,
  };
}

/** What a refund came to, in words, or null when nothing came back. */
export function refundWords(session, viewer) {
  const refund = session.refund || { status: "NONE", credits: 0 };
  if (!refund.credits) return null;
  const where = accountWords(session, viewer);
  const part = refund.credits < session.credits ? ` of ${session.credits}` : "";
  return `${credits(refund.credits)}${part} refunded to ${where}.`;
}

/** The canceled banner: who canceled, when, why, and what came back. */
export function bannerLines(session, viewer, clock) {
  const cancellation = session.cancellation;
  if (!cancellation) return [];
  const lines = [
    `Canceled by ${who(cancellation.canceled_by, session, viewer)} on ` +
      `${clock.at(cancellation.canceled_at)}.`,
    cancellation.reason ? `Reason: “${cancellation.reason}”` : "No reason was given.",
  ];
  const refunded = refundWords(session, viewer);
  if (refunded) {
    lines.push(refunded);
  } else if (viewer === "coach") {
    lines.push("Not refunded: it was canceled after the free cancellation window closed.");
  } else {
    lines.push(
      "Not refunded: it was canceled after the free cancellation window closed. " +
        "Your coach can still refund it.",
    );
  }
  return lines;
}

/** The "Cancellation and reschedule policy" section's lines. */
export function policyLines(session, viewer, clock, now = Date.now()) {
  const policy = session.policy;
  const lines = [];
  const tiers = policy.refund_tiers && policy.refund_tiers.length ? policy.refund_tiers : null;
  if (tiers && (tiers.length > 1 || tiers[0].percent !== 100)) {
    for (const tier of tiers) {
      lines.push(
        `Cancel at least ${hours(tier.hours_before)} before the start: ` +
          `${tier.percent}% of the credits back.`,
      );
    }
  } else if (now <= Date.parse(policy.refundable_until)) {
    lines.push(
      `Free cancellation until ${hours(policy.window_hours)} before the start ` +
        `(${clock.at(policy.refundable_until)}); after that, credits are not refunded.`,
    );
  } else {
    lines.push(
      `The free cancellation window (${hours(policy.window_hours)} before the start) closed ` +
        `on ${clock.at(policy.refundable_until)}: a cancel now is not refunded.`,
    );
  }
  if (policy.kept_after_move) {
    lines.push(
      "The session was moved by the coach or support, so a full refund stays possible until " +
        "the new start.",
    );
  }
  lines.push(
    policy.late_reschedule_requires_approval
      ? `Reschedule freely until the window closes; after that, the coach must approve a move.`
      : `Reschedule freely until the window closes; after that, only the coach can move it.`,
  );
  if (policy.reschedules_left !== null && policy.reschedules_left !== undefined) {
    lines.push(
      policy.reschedules_left === 0
        ? "This session cannot be moved again by the member."
        : `The member can move it ${policy.reschedules_left} more ` +
            `time${policy.reschedules_left === 1 ? "" : "s"}.`,
    );
  }
  if (policy.cancel_reason_required) {
    lines.push("A reason is needed to cancel.");
  }
  return lines;
}

/** True when a member's move now waits for the coach (the window has closed). */
export function moveNeedsApproval(session, viewer, now = Date.now()) {
  return (
    viewer === "member" &&
    session.policy.late_reschedule_requires_approval &&
    now > Date.parse(session.policy.refundable_until)
  );
}

const HISTORY = {
  BOOKED: "Booked",
  REQUESTED: "Booking requested",
  APPROVED: "Booking accepted",
  DECLINED: "Declined",
  EXPIRED: "Lapsed unanswered",
  CANCELED: "Canceled",
  RESCHEDULED: "Moved",
  RESCHEDULE_REQUESTED: "Move requested",
  RESCHEDULE_APPROVED: "Move approved",
  RESCHEDULE_DECLINED: "Move declined",
  RESCHEDULE_EXPIRED: "Move request lapsed",
  RESCHEDULE_WITHDRAWN: "Move request withdrawn",
  REFUNDED: "Refunded",
  COMPLETED: "Completed",
  NO_SHOW: "Marked as a no-show",
};

/** The session's history, oldest first: {at, text} with who acted and the reason they gave. A
 * kind this page does not know yet still shows, in its own words. */
export function historyLines(session, viewer, clock) {
  return (session.history || []).map((event) => {
    let text =
      HISTORY[event.kind] ||
      event.kind.charAt(0) + event.kind.slice(1).toLowerCase().replaceAll("_", " ");
    if (event.kind === "RESCHEDULED" && event.previous_start && event.start) {
      text += ` from ${clock.at(event.previous_start)} to ${clock.at(event.start)}`;
    } else if (event.kind === "RESCHEDULE_REQUESTED" && event.start) {
      text += ` to ${clock.at(event.start)}`;
    }
    if (event.by) text += ` by ${who(event.by, session, viewer)}`;
    if (event.kind === "NO_SHOW" && event.party) {
      text += ` (${event.party === "MEMBER" ? session.member.name : session.coach.name} absent)`;
    }
    if (["REFUNDED", "CANCELED", "NO_SHOW"].includes(event.kind) && event.credits) {
      text += `, ${credits(event.credits)} back`;
    }
    text += event.reason ? `: “${event.reason}”` : ".";
    return { at: event.at, text };
  });
}
