// Reads an .ics file the way Thunderbird does (ical.js) and prints what a calendar would show.
//
//   node tests/js/expand_ics.mjs FILE [LIMIT]
//
// Prints one JSON object: the calendar's METHOD and, for each VEVENT, its uid, sequence,
// status, summary, tzid and every occurrence (RRULE expanded, EXDATEs removed, at most LIMIT,
// default 500) as UTC ISO instants plus the wall-clock time in the event's own TZID.
// The VTIMEZONEs come from the file itself, registered before any time is read; an event
// whose TZID has no VTIMEZONE is an error, because ical.js would then show it as floating time.

import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const [file, limitArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: node expand_ics.mjs FILE [LIMIT]");
  process.exit(2);
}
const limit = Number(limitArg ?? 500);

const calendar = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(vtimezone);
}

// "2027-04-05T15:45:00" in `zone`, whatever zone the occurrence was computed in.
function wallClock(time, zone) {
  return time.convertToZone(zone).toString();
}

function occurrenceOf(zone, startDate, endDate) {
  return {
    start_utc: startDate.toJSDate().toISOString(),
    end_utc: endDate.toJSDate().toISOString(),
    start_local: wallClock(startDate, zone),
    end_local: wallClock(endDate, zone),
  };
}

const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const tzid = vevent.getFirstProperty("dtstart").getParameter("tzid") ?? null;
  const zone = tzid ? ICAL.TimezoneService.get(tzid) : ICAL.Timezone.utcTimezone;
  if (!zone) {
    throw new Error(`event ${event.uid}: TZID ${tzid} has no VTIMEZONE in the file`);
  }
  const occurrences = [];
  if (event.isRecurring()) {
    const iterator = event.iterator();
    for (let next = iterator.next(); next && occurrences.length < limit; next = iterator.next()) {
      const details = event.getOccurrenceDetails(next);
      occurrences.push(occurrenceOf(zone, details.startDate, details.endDate));
    }
  } else {
    occurrences.push(occurrenceOf(zone, event.startDate, event.endDate));
  }
  return {
    uid: event.uid,
    sequence: event.sequence,
    status: vevent.getFirstPropertyValue("status"),
    summary: event.summary,
    location: event.location,
    tzid,
    recurring: event.isRecurring(),
    occurrences,
  };
});

const output = {
  method: calendar.getFirstPropertyValue("method"),
  timezones: calendar.getAllSubcomponents("vtimezone").map((z) => z.getFirstPropertyValue("tzid")),
  events,
};
process.stdout.write(JSON.stringify(output, null, 1) + "\n");
