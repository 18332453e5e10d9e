//! What a message counts for: the bookkeeping of a send and of a verified reply, as pure
//! functions of the instants given, so every rule (which latency, which window, which counter) is
//! tested with made-up instants and no clock.

use echo_common::WorkSpec;

use crate::engine::clock::Nanos;
use crate::engine::record::Record;
use crate::engine::schedule::latency;

/// A message on its way: when it was due (open loop: by the schedule; closed loop: when it was
/// sent) and when its first byte actually left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    pub due: Nanos,
    pub sent: Nanos,
}

/// How the thread's replies are counted this loop turn.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The measured window's start, while it is open; `None` in the warm-up and after it closed.
    pub window: Option<Nanos>,
    /// Open loop: messages leave on schedule, not each on the last one's reply.
    pub open_loop: bool,
    /// `--work-every`: which messages carry work (the split into bystanders and working).
    pub work_every: u64,
}

/// A message was sent at `sent`: the open loop's achieved rate counts it only inside the window.
pub fn on_send(record: &mut Record, rules: &Rules, sent: Nanos) {
    if rules.window.is_some_and(|start| sent >= start) {
        record.sent += 1;
    }
}

/// The verified reply to message `seq`, sent as `message`, completed at `done`: records it if it
/// completed in the window, whenever its message was due or sent. The server served it in the
/// window, and in the open loop above capacity the late ones are those that matter most; leaving
/// out the replies to messages in flight as the window opened (one per connection in the closed
/// loop) would undercount the rate by a round trip in the window's length: 3% at 10,000 clients
/// whose round trips take 100 ms, in a 3 s window. Returns whether it was recorded (the
/// connection then counts as having replied, and is not starved).
pub fn on_reply(
    record: &mut Record,
    rules: &Rules,
    message: Option<InFlight>,
    seq: u64,
    done: Nanos,
) -> bool {
    let Some(msg) = message else {
        return false;
    };
    let Some(start) = rules.window else {
        return false;
    };
    if done < start {
        return false;
    }
    // Corrected from when it was due, so a stall is charged to every message it held back;
    // uncorrected from when it left, as a naive client would see it.
    let (ns, raw_ns) = latency(msg.due, msg.sent, done);
    // A division per message is measurable; without a split nobody asks.
    let working = rules.work_every > 1 && WorkSpec::applies_to(seq, rules.work_every);
    record.message(ns, raw_ns, working);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Nanos = 1_000;
    const T: Nanos = 1_000_000_000;

    fn rules(window: Option<Nanos>, open_loop: bool) -> Rules {
        Rules {
            window,
            open_loop,
            work_every: 1,
        }
    }

    fn one(due: Nanos, sent: Nanos) -> Option<InFlight> {
        Some(InFlight { due, sent })
    }

    #[test]
    fn open_loop_latency_counts_from_the_due_time_and_the_send_time() {
        let mut r = Record::new(2, true, false);
        let (due, sent, done) = (T, T + 300 * US, T + 400 * US);
        let recorded = on_reply(&mut r, &rules(Some(T), true), one(due, sent), 0, done);
        assert!(
            recorded,
            "a reply in the window marks the client as replied"
        );
        r.close_seconds(usize::MAX);
        assert_eq!(r.all.len(), 1);
        // 400 us from due, 100 us from send (HDR's 3 significant figures keep these exact).
        assert_eq!(r.all.max(), r.all.highest_equivalent(400_000));
        let raw = r.uncorrected.as_ref().unwrap();
        assert_eq!(raw.max(), raw.highest_equivalent(100_000));
    }

    #[test]
    fn replies_outside_the_window_are_not_recorded_and_do_not_count_as_replied() {
        for open_loop in [false, true] {
            let mut r = Record::new(2, open_loop, false);
            let before = on_reply(&mut r, &rules(None, open_loop), one(T, T), 0, T + US);
            assert!(!before);
            assert!(!on_reply(
                &mut r,
                &rules(Some(T), open_loop),
                None,
                0,
                T + US
            ));
            let window = rules(Some(T + 10 * US), open_loop);
            let early = on_reply(&mut r, &window, one(T, T), 0, T + US);
            assert!(!early);
            assert_eq!(r.messages(), 0);
        }
    }

    #[test]
    fn a_reply_completed_in_the_window_counts_whenever_its_message_left() {
        let start = T + 10 * US;
        for open_loop in [false, true] {
            let mut r = Record::new(2, open_loop, false);
            // Sent before the window opened, answered in it.
            let counted = on_reply(&mut r, &rules(Some(start), open_loop), one(T, T), 0, start);
            assert!(counted, "open loop: {open_loop}");
            r.close_seconds(usize::MAX);
            assert_eq!(
                r.all.max(),
                r.all.highest_equivalent(10_000),
                "from its send"
            );
        }
    }

    #[test]
    fn sends_count_only_inside_the_window() {
        let mut r = Record::new(2, true, false);
        on_send(&mut r, &rules(None, true), T);
        on_send(&mut r, &rules(Some(T + US), true), T);
        on_send(&mut r, &rules(Some(T), true), T);
        assert_eq!(r.sent, 1);
    }

    #[test]
    fn the_work_of_each_message_is_told_apart() {
        let mut r = Record::new(3, false, true);
        let rules = Rules {
            window: Some(T),
            open_loop: false,
            work_every: 2,
        };
        assert!(on_reply(&mut r, &rules, one(T, T), 1, T + 1_500_000_000));
        assert_eq!(
            r.working.as_ref().unwrap().len(),
            1,
            "message 1 of every 2 has work"
        );
        assert!(on_reply(&mut r, &rules, one(T + US, T + US), 2, T + 2 * US));
        assert_eq!(r.bystander.as_ref().unwrap().len(), 1, "message 2 has none");
    }
}
