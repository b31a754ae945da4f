//! A probe's report as a terminal table and as JUnit XML (`--json` is the
//! [`Report`]'s serde form).

use std::fmt::Write as _;

use super::{Outcome, Report};

/// One line per check (`ok`, `DEVIATION`, `skipped`), grouped, then every
/// deviation with the request that showed it, then the totals.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "wsauth probe of {} against spec `{}`\n",
        report.url, report.spec
    );
    let width = report
        .outcomes
        .iter()
        .map(|o| o.check.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(72);
    let mut group = "";
    for outcome in &report.outcomes {
        if outcome.check.group != group {
            group = &outcome.check.group;
            let _ = writeln!(out, "\n{group}");
        }
        let verdict = verdict(outcome);
        let observed = outcome.observed.as_ref().map_or_else(
            || outcome.check.skip.clone().unwrap_or_default(),
            ToString::to_string,
        );
        let _ = writeln!(
            out,
            "  {verdict:<9} {:<width$}  spec: {}  seen: {observed}",
            clip(&outcome.check.name, width),
            outcome.check.expect,
        );
    }
    let deviations: Vec<&Outcome> = report.deviations().collect();
    if !deviations.is_empty() {
        out.push_str("\nDeviations (spec vs observed, and the request that showed it):\n");
        for o in &deviations {
            let _ = writeln!(
                out,
                "- {} / {}\n    spec:     {}\n    observed: {}\n    request:  {}",
                o.check.group,
                o.check.name,
                o.check.expect,
                o.observed
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                o.check.request,
            );
        }
    }
    let skipped = report
        .outcomes
        .iter()
        .filter(|o| o.observed.is_none())
        .count();
    let _ = writeln!(
        out,
        "\n{} checks: {} as the spec says, {} deviations, {} skipped",
        report.outcomes.len(),
        report.outcomes.len() - deviations.len() - skipped,
        deviations.len(),
        skipped,
    );
    out
}

fn verdict(outcome: &Outcome) -> &'static str {
    match (&outcome.observed, outcome.pass) {
        (None, _) => "skipped",
        (Some(_), true) => "ok",
        (Some(_), false) => "DEVIATION",
    }
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut clipped: String = text.chars().take(width.saturating_sub(1)).collect();
        clipped.push('…');
        clipped
    }
}

/// JUnit XML: one test suite per group, one test case per check, a
/// `<failure>` per deviation, `<skipped>` with its reason.
pub fn junit(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = report.deviations().count();
    let _ = writeln!(
        out,
        "<testsuites name=\"wsauth probe {}\" tests=\"{}\" failures=\"{failures}\">",
        xml(&report.spec),
        report.outcomes.len()
    );
    let mut groups: Vec<&str> = Vec::new();
    for o in &report.outcomes {
        if !groups.contains(&o.check.group.as_str()) {
            groups.push(&o.check.group);
        }
    }
    for group in groups {
        let cases: Vec<&Outcome> = report
            .outcomes
            .iter()
            .filter(|o| o.check.group == group)
            .collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            xml(group),
            cases.len(),
            cases.iter().filter(|o| !o.pass).count(),
            cases.iter().filter(|o| o.observed.is_none()).count(),
        );
        for o in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(group),
                xml(&o.check.name)
            );
            match (&o.observed, o.pass) {
                (None, _) => {
                    let _ = writeln!(
                        out,
                        "><skipped message=\"{}\"/></testcase>",
                        xml(o.check.skip.as_deref().unwrap_or(""))
                    );
                }
                (Some(_), true) => out.push_str("/>\n"),
                (Some(observed), false) => {
                    let _ = writeln!(
                        out,
                        "><failure message=\"spec: {}; observed: {}\">request: {}</failure></testcase>",
                        xml(&o.check.expect.to_string()),
                        xml(&observed.to_string()),
                        xml(&o.check.request),
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
