import Foundation
import OperatorPages
import OrderStore
import Testing

/// The pages as HTML: what they show, what they never let through, and what they offer.
@Suite struct RenderingTests {
    let pages = try! OperatorPages()
    let now = Timestamp.date("2026-12-02T12:00:00.000Z")!

    /// Text that would be markup if it were not escaped, in every place Colt or an operator writes.
    static let hostile = #"<script>alert(1)</script><img src=x onerror="alert(2)">'&"#

    func entry(state: String = "rejected", outcomeUnknown: Bool = false) -> LedgerEntry {
        let json = """
            {"id": 42, "action": "return", "country": "GB", "range_start": "+442071234567", "range_end": "+442071234569",
             "service_profile": \(quoted(Self.hostile)), "state": "\(state)", "tracking_id": "co-abc",
             "order_id": \(quoted(Self.hostile)), "order_status": \(quoted(Self.hostile)), "attempts": 2,
             "last_error": \(quoted(Self.hostile)), "colt_code": \(quoted(Self.hostile)), "outcome_unknown": \(outcomeUnknown),
             "created_at": "2026-12-01T10:00:00.000Z", "updated_at": "2026-12-01T10:05:00.000Z", "lookups": 0,
             "attention": null}
            """
        return try! JSONDecoder().decode(LedgerEntry.self, from: Data(json.utf8))
    }

    func quoted(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    func attempt() -> AttemptEntry {
        let json = """
            {"id": 1, "attempt": 1, "tracking_id": "co-abc", "started_at": "2026-12-01T10:00:00.000Z",
             "ended_at": "2026-12-01T10:00:01.000Z", "http_status": 409, "outcome": "rejected",
             "colt_code": \(quoted(Self.hostile)), "colt_reason": \(quoted(Self.hostile)), "colt_message": \(quoted(Self.hostile)),
             "detail": \(quoted(Self.hostile)), "duration_ms": 812, "evidence": \(quoted(Self.hostile))}
            """
        return try! JSONDecoder().decode(AttemptEntry.self, from: Data(json.utf8))
    }

    func requestPage(state: String = "rejected", outcomeUnknown: Bool = false, actions: PageActions) -> String {
        pages.request(RequestPageData(entry: entry(state: state, outcomeUnknown: outcomeUnknown), attempts: [attempt()],
                                      numbers: [], actions: actions, now: now))
    }

    func expectNoInjectedMarkup(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!html.contains("<script"), sourceLocation: sourceLocation)
        #expect(!html.contains("<img"), sourceLocation: sourceLocation)
        #expect(!html.contains(#"onerror="alert"#), sourceLocation: sourceLocation)
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;&#39;&amp;"),
                sourceLocation: sourceLocation)
    }

    @Test func whatColtOrAnOperatorWroteIsShownAsTextOnEveryPage() {
        let request = requestPage(actions: .readOnly("read-only"))
        expectNoInjectedMarkup(request)
        #expect(request.contains("<details><summary>inventory evidence</summary><pre class=\"evidence\">&lt;script&gt;"))
        var list = LedgerPage(entries: [entry()], nextBefore: nil)
        list.entries[0].attention = Self.hostile
        expectNoInjectedMarkup(pages.ledger(LedgerPageData(query: LedgerQuery(), page: list, now: now)))
        var query = LedgerQuery()
        query.search = Self.hostile
        expectNoInjectedMarkup(pages.ledger(LedgerPageData(
            query: query, search: LedgerSearch(understoodAs: ["order id or tracking id"], entries: [entry()], truncated: false), now: now)))
        let status = LedgerStatus(counts: ["rejected": 1], oldestQueued: nil, oldestRetrying: nil, oldestReconciling: nil,
                                  recentRejections: [], stalled: 0, unexpectedFinalStatus: 0,
                                  attention: [.init(id: 42, state: "unresolved", range: "+442071234567", orderID: Self.hostile, reason: Self.hostile)])
        let overview = pages.overview(OverviewData(
            status: status,
            rejections: RecentRejections(count: 1, byCode: [(Self.hostile, 1)], latest: [
                .init(id: 42, range: "+442071234567", coltCode: Self.hostile, message: Self.hostile, rejectedAt: "2026-12-02T11:00:00.000Z"),
            ]),
            activity: [], completion: CompletionTimes(counts: Array(repeating: 0, count: 10), median: nil), window: .day,
            daemon: DaemonCondition(engineRunning: true, lastError: Self.hostile, lastErrorAt: now, tokenFailure: Self.hostile), now: now))
        expectNoInjectedMarkup(overview)
        expectNoInjectedMarkup(pages.problem(heading: "Refused", message: Self.hostile))
    }

    @Test func theRequestPageOffersOnlyTheActionsTheCLIAllows() {
        let on = PageActions(readOnlyBecause: nil, csrfToken: "token-123")
        func forms(_ html: String) -> [String] {
            ["/cancel", "/retry"].filter { html.contains("action=\"/requests/42\($0)\"") }
        }
        #expect(forms(requestPage(state: "queued", actions: on)) == ["/cancel"])
        #expect(forms(requestPage(state: "retrying", actions: on)) == ["/cancel"])
        #expect(forms(requestPage(state: "rejected", actions: on)) == ["/retry"])
        #expect(forms(requestPage(state: "failed", actions: on)) == ["/retry"])
        #expect(forms(requestPage(state: "unresolved", actions: on)) == ["/cancel", "/retry"])
        for state in ["submitting", "reconciling", "in_progress", "completed", "invalid", "cancelled"] {
            let html = requestPage(state: state, actions: on)
            #expect(forms(html).isEmpty, "\(state)")
            #expect(html.contains("No action applies to a \(state) request."))
        }
        // Every form carries the CSRF token.
        let html = requestPage(state: "unresolved", actions: on)
        #expect(html.components(separatedBy: #"<input type="hidden" name="csrf" value="token-123">"#).count == 3)
    }

    @Test func aRetryThatCouldMakeASecondOrderIsShownWithItsWarning() {
        let on = PageActions(readOnlyBecause: nil, csrfToken: "t")
        let plain = requestPage(state: "failed", actions: on)
        #expect(!plain.contains(#"name="force""#))
        let risky = requestPage(state: "failed", outcomeUnknown: true, actions: on)
        #expect(risky.contains("Colt may already hold an order under tracking id co-abc"))
        #expect(risky.contains(#"<input type="checkbox" name="force" value="1" required>"#))
    }

    @Test func aReadOnlyPageHasNoFormsAndSaysHowToTurnActionsOn() {
        let html = requestPage(state: "queued", actions: .readOnly("To cancel and retry from here, set status.allow_actions = true"))
        #expect(!html.contains("<form method=\"post\""))
        #expect(html.contains("This page is read-only. To cancel and retry from here, set status.allow_actions = true"))
    }

    @Test func theLedgerQueryTakesOnlyItsChoicesAndKeepsThemAcrossPages() throws {
        #expect(throws: LedgerQueryError.self) { try LedgerQuery.parse(["state": "stuck"]).get() }
        #expect(throws: LedgerQueryError.self) { try LedgerQuery.parse(["country": "US"]).get() }
        #expect(throws: LedgerQueryError.self) { try LedgerQuery.parse(["age": "forever"]).get() }
        #expect(throws: LedgerQueryError.self) { try LedgerQuery.parse(["before": "-3"]).get() }
        #expect(throws: LedgerQueryError.self) { try LedgerQuery.parse(["q": String(repeating: "x", count: 256)]).get() }
        let query = try LedgerQuery.parse(["state": "rejected", "country": "de", "age": "gt24h", "action": ""]).get()
        #expect(query.country == "DE" && query.action == nil)
        let filter = query.filter(now: now, limit: 50)
        #expect(filter.createdBefore == now.addingTimeInterval(-86_400) && filter.since == nil)
        let html = pages.ledger(LedgerPageData(query: query, page: LedgerPage(entries: [entry()], nextBefore: 41), now: now))
        #expect(html.contains(#"<a href="/ledger?state=rejected&amp;country=DE&amp;age=gt24h&amp;before=41">"#))
        #expect(html.contains(#"<option value="rejected" selected>"#))
    }

    @Test func theDaemonPanelSaysWhatHoldsSubmissionsBack() {
        func panel(_ condition: DaemonCondition) -> String {
            let status = LedgerStatus(counts: [:], oldestQueued: nil, oldestRetrying: nil, oldestReconciling: nil,
                                      recentRejections: [], stalled: 0, unexpectedFinalStatus: 0, attention: [])
            return pages.overview(OverviewData(status: status, rejections: RecentRejections(count: 0, byCode: [], latest: []), activity: [],
                                               completion: CompletionTimes(counts: Array(repeating: 0, count: 10), median: nil),
                                               window: .day, daemon: condition, now: now))
        }
        let healthy = panel(DaemonCondition(engineRunning: true, inFlight: 3, tokenValidFor: .seconds(1500)))
        #expect(healthy.contains(#"<section class="daemon good""#))
        #expect(healthy.contains("running, 3 requests in flight") && healthy.contains("held, valid for 25m 0s"))
        let paused = panel(DaemonCondition(engineRunning: true, pausedUntil: now.addingTimeInterval(90), lastError: "request 7: HTTP 503 from Colt",
                                           lastErrorAt: now.addingTimeInterval(-5)))
        #expect(paused.contains(#"<section class="daemon warn""#))
        #expect(paused.contains("every submission waits until 2026-12-02 12:01:30 (in 1m 30s)"))
        #expect(paused.contains("request 7: HTTP 503 from Colt (5s ago)"))
        let failing = panel(DaemonCondition(engineRunning: true, tokenValidFor: .seconds(120), tokenFailure: "HTTP 503 from the token endpoint"))
        #expect(failing.contains(#"<section class="daemon warn""#))
        #expect(failing.contains("held, valid for 2m 0s; the last refresh failed: HTTP 503 from the token endpoint"))
        let refused = panel(DaemonCondition(engineRunning: true, credentialsPausedUntil: now.addingTimeInterval(300)))
        #expect(refused.contains(#"<section class="daemon bad""#) && refused.contains("REFUSED by Colt"))
    }

    @Test func thePlotsDrawOneBarPerHourAndCountAndLabelInWords() {
        let hours = (0..<24).map { HourlyActivity(hour: "2026-12-02T\($0 < 10 ? "0" : "")\($0)", accepted: $0 == 13 ? 120 : 0, completed: $0 == 14 ? 7 : 0) }
        let status = LedgerStatus(counts: [:], oldestQueued: nil, oldestRetrying: nil, oldestReconciling: nil,
                                  recentRejections: [], stalled: 0, unexpectedFinalStatus: 0, attention: [])
        let html = pages.overview(OverviewData(status: status, rejections: RecentRejections(count: 0, byCode: [], latest: []), activity: hours,
                                               completion: CompletionTimes(counts: [0, 3, 0, 0, 0, 0, 0, 0, 0, 1], median: (180, 240)),
                                               window: .day, daemon: DaemonCondition(engineRunning: true), now: now))
        #expect(html.contains("<title>2026-12-02 13:00 UTC: 120 accepted</title>"))
        #expect(html.contains("<title>2026-12-02 14:00 UTC: 7 completed</title>"))
        #expect(html.components(separatedBy: "<rect class=\"accepted\"").count == 2, "hours without orders draw no bar")
        #expect(html.contains("accepted by Colt (120)") && html.contains("completed (7)"))
        #expect(html.contains("4 completed; median 3 min to 4 min"))
        #expect(html.contains("<title>1–5 min: 3</title>") && html.contains("<title>&gt; 5 days: 1</title>"))
        // The scale is a round number at or above the busiest hour.
        #expect(html.contains(#"text-anchor="end">200</text>"#))
    }
}
