//! What a message counts for: the bookkeeping of a send and of a verified reply, as pure
//! functions of the instants given, so every rule (which latency, which window, which counter) is
//! tested with made-up instants and no clock.

use std::collections::VecDeque;
use std::time::Instant;

use echo_common::Work;

use crate::record::Record;
use crate::schedule::latency;

/// A message on its way: when it was due (open loop: by the schedule; closed loop: when it was
/// sent) and when its first byte actually left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    pub due: Instant,
    pub sent: Instant,
}

/// How the thread's replies are counted this loop turn.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The measured window's start, while it is open; `None` in the warm-up and after it closed.
    pub window: Option<Instant>,
    /// Open loop: a reply counts if it arrives in the window, whenever its message was due (above
    /// capacity the late ones are those that matter most). Closed loop: only messages sent in the
    /// window count, so the warm-up's last round trip does not leak into it.
    pub open_loop: bool,
    /// `--work-every`: which messages carry work (the split into bystanders and working).
    pub work_every: u64,
}

/// A message was sent at `sent`: the open loop's achieved rate counts it only inside the window.
pub fn on_send(record: &mut Record, rules: &Rules, sent: Instant) {
    if rules.window.is_some_and(|start| sent >= start) {
        record.sent += 1;
    }
}

/// The verified reply to message `seq`, the oldest in `in_flight`, completed at `done`: pops its
/// send instants and records it if it falls in the window. Returns whether it was recorded (the
/// connection then counts as having replied, and is not starved).
pub fn on_reply(
    record: &mut Record,
    rules: &Rules,
    in_flight: &mut VecDeque<InFlight>,
    seq: u64,
    done: Instant,
) -> bool {
    let Some(msg) = in_flight.pop_front() else {
        return false;
    };
    let Some(start) = rules.window else {
        return false;
    };
    let counts = done >= start && (rules.open_loop || msg.sent >= start);
    if !counts {
        return false;
    }
    // Corrected from when it was due, so a stall is charged to every message it held back;
    // uncorrected from when it left, as a naive client would see it.
    let (ns, raw_ns) = latency(msg.due, msg.sent, done);
    let second = (done - start).as_secs() as usize;
    let working = Work::applies_to(seq, rules.work_every);
    record.message(ns, raw_ns, working, second);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const US: Duration = Duration::from_micros(1);

    fn rules(window: Option<Instant>, open_loop: bool) -> Rules {
        Rules {
            window,
            open_loop,
            work_every: 1,
        }
    }

    fn one(due: Instant, sent: Instant) -> VecDeque<InFlight> {
        VecDeque::from([InFlight { due, sent }])
    }

    #[test]
    fn open_loop_latency_counts_from_the_due_time_and_the_send_time() {
        let t = Instant::now();
        let mut r = Record::new(2, true, false);
        let (due, sent, done) = (t, t + 300 * US, t + 400 * US);
        let recorded = on_reply(&mut r, &rules(Some(t), true), &mut one(due, sent), 0, done);
        assert!(
            recorded,
            "a reply in the window marks the client as replied"
        );
        assert_eq!(r.all.len(), 1);
        // 400 us from due, 100 us from send (HDR's 3 significant figures keep these exact).
        assert_eq!(r.all.max(), r.all.highest_equivalent(400_000));
        let raw = r.uncorrected.as_ref().unwrap();
        assert_eq!(raw.max(), raw.highest_equivalent(100_000));
    }

    #[test]
    fn replies_outside_the_window_are_not_recorded_and_do_not_count_as_replied() {
        let t = Instant::now();
        for open_loop in [false, true] {
            let mut r = Record::new(2, open_loop, false);
            let mut q = one(t, t);
            let before = on_reply(&mut r, &rules(None, open_loop), &mut q, 0, t + US);
            assert!(!before && q.is_empty(), "popped even when not recorded");
            let early = on_reply(
                &mut r,
                &rules(Some(t + 10 * US), open_loop),
                &mut one(t, t),
                0,
                t + US,
            );
            assert!(!early);
            assert_eq!(r.all.len(), 0);
        }
    }

    #[test]
    fn closed_loop_counts_only_messages_sent_in_the_window_open_loop_every_reply_in_it() {
        let t = Instant::now();
        let start = t + 10 * US;
        let mut closed = Record::new(2, false, false);
        assert!(!on_reply(
            &mut closed,
            &rules(Some(start), false),
            &mut one(t, t),
            0,
            t + 20 * US
        ));
        let mut open = Record::new(2, true, false);
        assert!(on_reply(
            &mut open,
            &rules(Some(start), true),
            &mut one(t, t),
            0,
            t + 20 * US
        ));
    }

    #[test]
    fn sends_count_only_inside_the_window() {
        let t = Instant::now();
        let mut r = Record::new(2, true, false);
        on_send(&mut r, &rules(None, true), t);
        on_send(&mut r, &rules(Some(t + US), true), t);
        on_send(&mut r, &rules(Some(t), true), t);
        assert_eq!(r.sent, 1);
    }

    #[test]
    fn the_oldest_message_is_the_one_answered_and_its_second_is_kept() {
        let t = Instant::now();
        let mut r = Record::new(3, false, true);
        let mut q = VecDeque::from([
            InFlight { due: t, sent: t },
            InFlight {
                due: t + US,
                sent: t + US,
            },
        ]);
        let rules = Rules {
            window: Some(t),
            open_loop: false,
            work_every: 2,
        };
        assert!(on_reply(
            &mut r,
            &rules,
            &mut q,
            1,
            t + Duration::from_millis(1500)
        ));
        assert_eq!(q.front().unwrap().sent, t + US);
        assert_eq!(r.ticks[1].len(), 1, "done 1.5 s into the window: second 1");
        assert_eq!(
            r.working.as_ref().unwrap().len(),
            1,
            "message 1 of every 2 has work"
        );
    }
}
