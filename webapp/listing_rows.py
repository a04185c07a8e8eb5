"""The rows of the browse page's file table, as one string of HTML: the page's only copy of the listing.

Contract: rows(listing, filetypes, boxes) takes the listing dict of browse.listing_for (folders then files,
in its order) and answers Markup with one <tr> per entry, the markup webapp/static/rows.js builds too (it
adds data-name, the boxes and tag cells), so that browse.js reads its state back from it (rows.js
readListing) instead of from a second, JSON copy:

    <tr[ data-th][ data-tags="JSON"]><td>[BOX]<td><a[ class=k-KIND] href=HREF>NAME</a><td[ data-s=BYTES]>SIZE<td data-t=MTIME>DATE

- the first cell holds the selection box: empty here (browse.js adds the boxes) unless `boxes` (the page for
  selecting without JavaScript, `?select`), where it is <input type=checkbox name=sel value="NAME">;
- a folder's href ends with "/" and its size cell is empty; KIND is the icon kind of the file's extension
  (filetypes, from _filetypes.html), left out for a plain "file"; style.css draws the icon from it;
- SIZE is Jinja's filesizeformat(binary=True), DATE "YYYY-MM-DD HH:MM" in UTC (browse.js shows local time);
  BYTES and MTIME (seconds) are exact, for sorting;
- data-th marks a file whose thumbnail is made, data-tags carries an audio file's tags (docs/http-api.md).

Names are HTML-escaped; hrefs are percent-encoded (browse._href), so they need no quotes. Start and end
tags that HTML makes optional are left out, and so are newlines (they would end up in the date's text): a
2000-entry page is about 107 bytes a row.
"""
import json
import time

from jinja2.filters import do_filesizeformat
from markupsafe import Markup, escape


def utc_minute(ts):
    """"YYYY-MM-DD HH:MM" in UTC: how pages seen without JavaScript show a time (the `utcdate` filter too)."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def rows(listing, filetypes, boxes=False):
    """The <tr> rows of a listing dict (browse.listing_for) for the browse page's table body."""
    dates, sizes = {}, {}   # a folder's files mostly share their minutes and often their sizes

    def date(ts):
        minute = ts // 60
        text = dates.get(minute)
        if text is None:
            text = dates[minute] = utc_minute(ts)
        return text

    def size(sz):
        text = sizes.get(sz)
        if text is None:
            text = sizes[sz] = do_filesizeformat(sz, True)
        return text

    def box(name):
        return f'<input type=checkbox name=sel value="{name}">' if boxes else ""

    out = []
    for entry in listing["dirs"]:
        name = escape(entry["name"])
        out.append(f'<tr><td>{box(name)}<td><a class=k-folder href={entry["href"]}>{name}</a>'
                   f'<td><td data-t={entry["ts"]}>{date(entry["ts"])}')
    for entry in listing["files"]:
        name = escape(entry["name"])
        kind = filetypes.get(entry["ext"], "file")
        marks = " data-th" if entry.get("thumb") else ""
        if "tags" in entry:
            marks += f' data-tags="{escape(json.dumps(entry["tags"], separators=(",", ":")))}"'
        link = f"<a class=k-{kind} href=" if kind != "file" else "<a href="
        out.append(f'<tr{marks}><td>{box(name)}<td>{link}{entry["href"]}>{name}</a>'
                   f'<td data-s={entry["sz"]}>{size(entry["sz"])}'
                   f'<td data-t={entry["ts"]}>{date(entry["ts"])}')
    return Markup("".join(out))
