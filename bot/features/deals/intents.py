"""What people type about deals: the intents of the deal skill, with examples and slots.

Examples are written as people type in chat, with placeholders where a value goes (see
:mod:`bot.kernel.understanding.spec`); a new customer's name is in angle brackets, so the model learns
the shape of a registration and the slot parser which words are not the name.
"""

from __future__ import annotations

from typing import Any

from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.slots import MAX_NAME_WORDS, SlotContext, free_name, free_notes, record_by_name
from bot.kernel.understanding.spec import ALL_WORDS, HISTORY_WORDS, PARTNER, STAFF, IntentSpec

STAGE_WORDS = {
    "prospecting": "prospecting", "prospect": "prospecting",
    "qualification": "qualification", "qualified": "qualification", "qualifying": "qualification",
    "discovery": "discovery", "demo": "demo", "demoed": "demo",
    "evaluation": "evaluation", "eval": "evaluation", "poc": "evaluation", "pilot": "evaluation",
    "trial": "evaluation", "proof of concept": "evaluation",
    "proposal": "proposal", "proposed": "proposal", "quote": "proposal", "quoted": "proposal",
    "offer sent": "proposal",
    "negotiation": "negotiation", "negotiating": "negotiation", "negotiations": "negotiation",
    "commit": "commit", "committed": "commit", "verbal": "commit", "verbal yes": "commit",
}  # fmt: skip
STATUS_WORDS = {
    "pending": "pending_review", "waiting": "pending_review", "in review": "pending_review",
    "approved": "approved", "protected": "approved", "rejected": "rejected", "declined": "rejected",
    "won": "won", "lost": "lost", "closed": "closed",
}  # fmt: skip


def registration_slots(ctx: SlotContext) -> dict[str, Any]:
    """A registration's customer: a known one by name, else the name as typed; and its web domain. A
    customer that is the company of one of the person's leads brings the lead (``lead``): converting it
    may be what is meant; one of the person's deals (``deal``) is said when the customer is asked about.
    """
    typed = free_name(ctx)
    found: dict[str, Any] = {"customer": typed} if typed else {}
    # only a record the name means as well as any other ("umbrella retail" is the deal, not Umbrella SA)
    best = max((s.score for s in ctx.entities.names), default=0.0)
    top = [s.value for s in ctx.entities.names if s.score >= best - 0.01 and isinstance(s.value, Named)]
    lead = next((n for n in top if n.kind == "L"), None)
    if lead is not None:
        found["lead"], found["lead_company"] = lead.ref, lead.name
    deal = next((n for n in top if n.kind == "D"), None)
    if deal is not None:
        found["deal"], found["deal_customer"] = deal.ref, deal.name
    notes = free_notes(ctx, besides=typed)
    if notes:
        found["notes"] = notes
    return found


def unmatched_name(ctx: SlotContext) -> dict[str, Any]:
    """A name typed for a deal that matches none of the deals the person may see ("the Hooli deal"),
    as typed: so the answer can say it was not found among theirs - exactly as for a reference they
    may not see, and never whether it exists elsewhere."""
    if ctx.entities.refs() or any(record_by_name(ctx.entities, "D")):
        return {}
    typed = free_name(ctx)
    # a longer stretch is a sentence the words of the intent did not cover, not a name
    return {"unmatched": typed} if typed and len(typed.split()) <= MAX_NAME_WORDS else {}


def customer_named(ctx: SlotContext) -> dict[str, Any]:
    """The customer a look-up across deals is about ("conflicts for stark logistics?"): a deal's customer
    by name, else the name as typed."""
    hits = [s.value for s in ctx.entities.names if isinstance(s.value, Named) and s.value.kind == "D"]
    if hits:
        return {"customer": hits[0].name}
    typed = free_name(ctx)
    return {"customer": typed} if typed and len(typed.split()) <= MAX_NAME_WORDS else {}


DEAL_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "deal.register",
        (
            "registriere bitte <Duff Bier GmbH>, {product}, {amount}, Abschluss {date}",
            "neuer Deal: <Kaufhaus Schmidt>, {product}, {amount}",
            "register a deal for <Acme Corp>, {product}, {amount}, closing {date}",
            "register <Fabrikam> {amount} {product} {date}",
            "reg <Northwind Traders> {product} {amount}",
            "new deal: <Tailspin Toys> / {product} / {amount} / {date}",
            "new opp <Litware> {amount} close {date}",
            "deal reg for <Adventure Works> - {product} - {amount}",
            "got a new one - <Wide World Importers>, {product}, {amount}, {date}",
            "opportunity for <Proseware>: {product}, {amount}, expected close {date}",
            "log this deal: <Coho Winery>, {amount}, {date}",
            "registering <Lucerne Publishing> | {product} | {amount} | {date}",
            "please register an opportunity with <Trey Research> for {amount}",
            "can you register <Blue Yonder> for me? {product}, {amount}",
            "i want to register a deal",
            "register a deal",
            "new registration",
            "reg deal",
            "register: <Alpine Ski House>, {product}, {amount}, close {date}",
            "customer: <Margie Travel> product: {product} amount: {amount} close: {date}",
            "add a deal for <Woodgrove Bank> worth {amount}",
            "submit a deal registration for <Contoso Pharma>, {amount}, {date}",
            "regsiter deal <Fourth Coffee> {amount}",
            "we have a new opportunity at <VanArsdel>, {product}, around {amount}, should close {date}",
            "new opp w/ <Relecloud> {product} {amount} {date}",
            "register {name} upsell {product} {amount} {date}",
            "deal: <Humongous Insurance> / {product} / {amount}",
            "protect <Southridge Video> for us: {product} {amount} closing {date}",
            "opp: <Graphic Design Institute>, {amount}, {date}, notes: 3 year term",
            "register the <Datum> deal, {product}, {amount}",
        ),
        slots=("customer", "product", "amount", "close_date", "domain", "country", "notes"),
        roles=PARTNER,
        writes=True,
        confirms=True,
        confirm="Register a new deal",
        parse=registration_slots,
    ),
    IntentSpec(
        "deal.status",
        (
            "{name}: anything from your end?",
            "show me the details of the {name} deal",
            "what's happening with the {name} registration?",
            "status of {ref}",
            "{ref}",
            "show {ref}",
            "open {ref}",
            "what's the status of {ref}?",
            "where are we with {ref}",
            "any news on {name}?",
            "what's happening with the {name} deal",
            "is {name} approved yet?",
            "is my {name} registration protected?",
            "did anyone review {name}?",
            "status {name}",
            "how is the {name} deal going",
            "update on {name}?",
            "when does protection on {ref} end",
            "what's the close date on {name}",
            "show me the {name} deal",
            "pull up {name}",
            "pull up the {name} opportunity",
            "has {ref} been approved",
            "still pending? {ref}",
            "status",
            "status of my deal",
            "history {ref}",
            "what changed on {ref}",
        ),
        slots=("ref", "customer", "view"),
        record="D",
        confirm="Show {ref}",
        values={"view": HISTORY_WORDS},
        parse=unmatched_name,
    ),
    IntentSpec(
        "deal.list",
        (
            "show my deals",
            "my deals",
            "list my deals",
            "list my open registrations",
            "my registrations",
            "my pipeline",
            "pipeline",
            "show all my deals including closed",
            "what deals do i have",
            "what's closing this quarter",
            "which deals close {date}",
            "open deals",
            "show me everything i registered",
            "list my won deals",
            "deals waiting for approval",
            "my rejected registrations",
            "overview of my opportunities",
            "what do i have in the pipe",
            "show deals",
        ),
        slots=("stage", "quarter", "scope"),
        values={"stage": STATUS_WORDS, "scope": ALL_WORDS},
        confirm="Show my deals",
    ),
    IntentSpec(
        "deal.update",
        (
            "bump {ref} to {amount}",
            "{name} pulled in to {date}",
            "{ref} amt {amount}",
            "{name} - next step: send the contract",
            "{ref} moved to proposal",
            "{ref} is in negotiation now",
            "{ref} stage negotiation",
            "{ref} -> commit",
            "update {ref}: amount {amount}",
            "{ref} amount {amount}",
            "{ref} closing {date}",
            "{ref} close date {date}",
            "{ref} slipped to {date}",
            "{name} slipped to {date}",
            "{name} pushed to {date}",
            "{name} moved to {date}",
            "move the close date of {name} to {date}",
            "change the amount on the {name} deal to {amount}",
            "{name} is now {amount}",
            "{name} -> proposal",
            "{name} in poc now",
            "{name} verbal yes, closing {date}",
            "next step on {name}: workshop with the cto",
            "{ref} next step: send the quote",
            "{name} - next step is a call with procurement",
            "{ref} notes: 40 units",
            "update {name}: stage proposal, {amount}, {date}",
            "set {ref} to negotiation",
            "{name} delayed to {date}",
            "the {name} deal now closes {date}",
            "{ref} stage -> pilot",
            "update the deal",
            "push the close date",
        ),
        slots=("ref", "customer", "stage", "amount", "close_date", "next_step", "notes"),
        record="D",
        writes=True,
        values={"stage": STAGE_WORDS},
        confirm="Update {ref}",
    ),
    IntentSpec(
        "deal.won",
        (
            "PO received for {ref}",
            "got the purchase order from {name}",
            "{name} sent the PO",
            "{ref} won",
            "mark {ref} as won",
            "we won {ref}",
            "we won {name}",
            "{name} signed",
            "{name} signed the contract",
            "closed {name}!",
            "won the {name} deal",
            "{ref} closed won",
            "{name} is won, final {amount}",
            "{name} just signed for {amount}",
            "deal won {ref}",
            "the {name} deal closed today",
            "{name} came through, we got it",
        ),
        slots=("ref", "customer", "amount", "notes"),
        record="D",
        writes=True,
        confirm="Mark {ref} as won",
    ),
    IntentSpec(
        "deal.lost",
        (
            "sadly lost: {name}, reason: price",
            "verloren: {name}, zu teuer",
            "{ref} lost",
            "mark {ref} lost - no budget",
            "{ref} lost because of price",
            "we lost {name}",
            "{name} went away over pricing",
            "lost {name} to a competitor",
            "{name} is dead, close it lost",
            "{name} went with another vendor",
            "{name} went dark, mark it lost",
            "close {ref} as lost, reason: project cancelled",
            "{ref} is lost",
            "{name} chose a competitor",
            "{name} fell through",
            "lost the {name} deal, budget was cut",
            "{ref} closed lost",
        ),
        slots=("ref", "customer", "reason"),
        record="D",
        writes=True,
        confirm="Mark {ref} as lost",
    ),
    IntentSpec(
        "deal.extend",
        (
            "extend {ref}",
            "please extend {ref} by {days}",
            "extend the protection on {name}",
            "need more time on {name}",
            "can you extend {ref}? procurement is slow",
            "extension for {ref} please, customer moved the budget",
            "extend the registration for {name} by {days}",
            "{ref} needs an extension",
            "ask for an extension on {name}",
            "extend",
        ),
        slots=("ref", "customer", "days", "end_date", "reason"),
        record="D",
        writes=True,
        confirm="Ask to extend {ref}",
    ),
    IntentSpec(
        "staff.pending",
        (
            "new registrations since {date}",
            "any regs waiting?",
            "registrations still waiting for a decision",
            "new registrations to look at?",
            "mdf requests waiting on me",
            "registrations I still have to review",
            "pending",
            "what's pending",
            "anything sitting in my review queue",
            "review queue",
            "approval queue",
            "registrations to review",
            "anything to approve?",
            "what needs my approval",
            "pending registrations from {partner}",
            "show pending deals",
            "what's in my queue",
        ),
        slots=("partner", "topic"),
        roles=STAFF,
        values={"topic": {"mdf": "mdf", "marketing funds": "mdf"}},
        confirm="Show what waits for review",
    ),
    IntentSpec(
        "staff.approve",
        (
            "approve {ref}",
            "approve {ref} and {dref}",
            "{ref} approved",
            "approve the {name} registration",
            "ok to approve {ref}",
            "approve {name}",
            "lgtm approve {ref}",
            "approve {ref} for {days}",
            "accept {ref}",
            "yes approve the {name} deal",
        ),
        slots=("ref", "refs", "customer", "days"),
        roles=STAFF,
        record="D",
        writes=True,
        confirm="Approve {ref}",
    ),
    IntentSpec(
        "staff.reject",
        (
            "turn down {ref}, the details are too thin",
            "no to {ref}, the customer is a direct account",
            "reject {ref}",
            "turn {ref} down, that account is served directly",
            "reject {ref} because it's a house account",
            "decline {ref} - duplicate",
            "reject the {name} registration, already registered by another partner",
            "no on {name}, we sell direct there",
            "deny {ref}",
            "{ref} rejected: outside territory",
            "turn down {name}",
            "reject {ref} because the customer has no budget approved",
            "reject {ref}: no end customer contact given",
            "{ref} is rejected, we already quoted them ourselves",
        ),
        slots=("ref", "customer", "reason"),
        roles=STAFF,
        record="D",
        writes=True,
        confirm="Reject {ref}",
    ),
    IntentSpec(
        "staff.ask_info",
        (
            "send {ref} back to the partner: need the seat count",
            "query {ref}: is this a duplicate of {lref}?",
            "ask {partner} what the budget is on {ref}",
            "get more details from {partner} on the {name} deal",
            "{ref}: ask the partner which competitor they are up against",
            "check with the partner whether {name} overlaps with {lref}",
            "ask the partner for the decision maker on {ref}",
            "ask info {ref}: who is the decision maker?",
            "ask {partner} for more info on {ref}",
            "need more information on {ref}: what's the budget",
            "bounce {ref} back to the partner and get the company website",
            "request details on the {name} deal",
            "ask the partner about {ref}",
            "more info needed on {name}: timeline?",
            "{ref} needs more info",
        ),
        slots=("ref", "customer", "partner", "text"),
        roles=STAFF,
        record="D",
        writes=True,
        confirm="Ask the partner about {ref}",
    ),
    IntentSpec(
        "deal.provide_info",
        (
            "info {ref}: the decision maker is their cfo",
            "answer for {ref}: budget is approved",
            "re {ref} - the competitor is the incumbent vendor",
            "here's the info you asked for on {ref}: they have 300 seats",
            "reply to the reviewer on {name}: signed nda last week",
            "more info for {ref}: the domain is {domain}",
            "{ref}: the contact is their head of it",
            "the reviewer asked about {ref}, it's a new project",
        ),
        slots=("ref", "customer", "text"),
        roles=PARTNER,
        record="D",
        writes=True,
        confirm="Tell the reviewer about {ref}",
    ),
    IntentSpec(
        "staff.conflicts",
        (
            "is anyone else working on {name}",
            "who else registered {name}",
            "duplicate regs",
            "show registrations that clash",
            "any double registrations?",
            "dupes to sort out",
            "conflicts",
            "show conflicts",
            "any overlapping registrations?",
            "channel conflicts",
            "which deals clash",
            "conflicts for {name}",
            "is anyone else registered on {name}",
            "duplicate registrations",
        ),
        slots=("customer",),
        roles=STAFF,
        confirm="Show conflicts",
        parse=customer_named,
    ),
)
