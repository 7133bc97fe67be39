"""Account exports of the fixture accounts, built to the formats the platforms publish.

`build_export(site, path)` writes the export a platform would hand the fixture account's owner:
the site's own posts (same ids, so `bewaar import` joins them with the browser's captures),
their media, follow lists, and one older post the site no longer shows (known only from the
export). Shapes follow the platforms' documentation of their exports; see
bewaar/app/importer/formats.py for what is read.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from bewaar.sites.media import png, video
from bewaar.sites.platforms.fixture import PlatformSite, Post

OLD_POST_TEXT = "Archief: ons eerste bericht op dit platform 🎉 #terugblik"
OLD_POST_TIME = "2019-03-01T09:00:00Z"


def _ts(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _twitter_date(iso: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%a %b %d %H:%M:%S +0000 %Y")


def _meta(s: str) -> str:
    """Meta's escaping: each UTF-8 byte as its own code point (as Meta's JSON files have it)."""
    return s.encode("utf-8").decode("latin-1")


def _zip(path: Path, files: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def _csv(rows: list[dict[str, Any]], preamble: str = "") -> str:
    out = io.StringIO()
    out.write(preamble)
    w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def old_post(site: PlatformSite, post_id: str) -> Post:
    return Post(id=post_id, text=OLD_POST_TEXT, published=OLD_POST_TIME, author=site.account.handle,
                author_name=site.account.name, photos=1, likes=5)  # fmt: skip


def own_posts(site: PlatformSite) -> list[Post]:
    return [p for p in site.visible_posts()] + site.own_replies()


def build_x(site: Any, path: Path) -> Path:
    a = site.account
    posts = own_posts(site) + [old_post(site, "1100000000000000001")]
    files: dict[str, bytes | str] = {"Your archive.html": "<!DOCTYPE html><title>Your X archive</title>"}
    tweets = []
    for p in posts:
        media = []
        for name in p.photo_names():
            media.append({"media_url_https": f"https://pbs.twimg.com/media/{name}.png", "id_str": name,
                          "type": "photo", "url": "https://t.co/x", "display_url": "pic.x.com/x"})  # fmt: skip
            files[f"data/tweets_media/{p.id}-{name}.png"] = png(320, 240, name)
        entities: dict[str, Any] = {
            "hashtags": [{"text": t, "indices": ["0", "1"]} for t in p.hashtags],
            "symbols": [],
            "user_mentions": [{"name": m, "screen_name": m, "id_str": "1", "indices": ["0", "1"]} for m in p.mentions],
            "urls": [{"url": f"https://t.co/{i}", "expanded_url": u, "display_url": u[8:30], "indices": ["0", "1"]}
                     for i, u in enumerate(p.links)],
        }  # fmt: skip
        text = p.text
        for i, u in enumerate(p.links):
            text = text.replace(u, f"https://t.co/{i}")
        tweet: dict[str, Any] = {
            "edit_info": {"initial": {"editTweetIds": [p.id], "editable": False}},
            "retweeted": False, "source": "<a href=\"https://mobile.twitter.com\">Twitter Web App</a>",
            "entities": entities, "display_text_range": ["0", str(len(text))],
            "favorite_count": str(p.likes), "id_str": p.id, "truncated": False,
            "retweet_count": str(p.reposts), "id": p.id, "created_at": _twitter_date(p.published),
            "favorited": False, "full_text": text.replace("&", "&amp;"), "lang": "nl",
        }  # fmt: skip
        if media:
            tweet["extended_entities"] = {"media": media}
            tweet["entities"]["media"] = media
        if p.reply_to:
            parent = site.post(p.reply_to)
            tweet.update(in_reply_to_status_id_str=p.reply_to, in_reply_to_status_id=p.reply_to,
                         in_reply_to_screen_name=parent.author, in_reply_to_user_id_str="1")  # fmt: skip
        tweets.append({"tweet": tweet})
    files["data/tweets.js"] = "window.YTD.tweets.part0 = " + json.dumps(tweets, indent=2, ensure_ascii=False)
    files["data/account.js"] = "window.YTD.account.part0 = " + json.dumps([{"account": {
        "email": "social@minbzk.example", "createdVia": "web", "username": a.handle, "accountId": a.id,
        "createdAt": a.joined.replace("Z", ".000Z"), "accountDisplayName": a.name}}], indent=2, ensure_ascii=False)  # fmt: skip
    files["data/profile.js"] = "window.YTD.profile.part0 = " + json.dumps([{"profile": {
        "description": {"bio": a.bio, "website": a.website, "location": a.location},
        "avatarMediaUrl": f"https://pbs.twimg.com/profile_images/{a.id}/avatar.png"}}], indent=2, ensure_ascii=False)  # fmt: skip
    files["data/follower.js"] = "window.YTD.follower.part0 = " + json.dumps(
        [{"follower": {"accountId": str(9000 + i), "userLink": f"https://twitter.com/intent/user?user_id={9000 + i}"}}
         for i in range(5)], indent=2)  # fmt: skip
    files["data/following.js"] = "window.YTD.following.part0 = " + json.dumps(
        [{"following": {"accountId": "8000", "userLink": "https://twitter.com/intent/user?user_id=8000"}}], indent=2)
    return _zip(path, files)


def build_mastodon(site: Any, path: Path) -> Path:
    a, base = site.account, site.base_url
    domain = site.handle_in_seed.rsplit("@", 1)[-1]
    actor = f"{base}/users/{a.handle}"
    posts = own_posts(site) + [old_post(site, "100000000000000001")]
    items, files = [], {}
    for p in posts:
        attachments = []
        for name in p.photo_names():
            rel = f"media_attachments/files/110/000/000/original/{name}.png"
            files[rel] = png(320, 240, name)
            attachments.append({"type": "Document", "mediaType": "image/png", "url": "/" + rel,
                                "name": f"Foto {name}", "width": 320, "height": 240})  # fmt: skip
        note: dict[str, Any] = {
            "id": f"{actor}/statuses/{p.id}", "type": "Note", "summary": site.spoilers.get(p.id),
            "inReplyTo": f"{base}/users/{site.post(p.reply_to).author}/statuses/{p.reply_to}" if p.reply_to else None,
            "published": p.published, "url": f"{base}/@{a.handle}/{p.id}", "attributedTo": actor,
            "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [f"{actor}/followers"],
            "sensitive": False, "content": "<p>" + p.text.replace("\n", "<br />") + "</p>",
            "contentMap": {"nl": "<p>" + p.text + "</p>"}, "attachment": attachments,
            "tag": [{"type": "Hashtag", "href": f"{base}/tags/{t.lower()}", "name": f"#{t.lower()}"} for t in p.hashtags]
            + [{"type": "Mention", "href": f"{base}/@{m}", "name": f"@{m}@{domain}"} for m in p.mentions],
        }  # fmt: skip
        items.append({"id": f"{actor}/statuses/{p.id}/activity", "type": "Create", "actor": actor,
                      "published": p.published, "to": note["to"], "cc": note["cc"], "object": note})  # fmt: skip
    items.append({"id": f"{actor}/statuses/1/activity", "type": "Announce", "actor": actor,
                  "published": "2024-05-01T08:00:00Z", "object": f"{base}/users/other/statuses/5"})  # fmt: skip
    outbox = {"@context": "https://www.w3.org/ns/activitystreams", "id": "outbox.json",
              "type": "OrderedCollection", "totalItems": len(items), "orderedItems": items}  # fmt: skip
    person = {"@context": ["https://www.w3.org/ns/activitystreams"], "id": actor, "type": "Person",
              "preferredUsername": a.handle, "name": a.name, "summary": f"<p>{a.bio}</p>",
              "url": f"{base}/@{a.handle}", "published": a.joined[:10] + "T00:00:00Z",
              "icon": {"type": "Image", "mediaType": "image/png", "url": "avatar.png"},
              "attachment": [{"type": "PropertyValue", "name": "Website",
                              "value": f'<a href="{a.website}" rel="me">{a.website}</a>'}]}  # fmt: skip
    files.update({"outbox.json": json.dumps(outbox, ensure_ascii=False, indent=1).encode(),
                  "actor.json": json.dumps(person, ensure_ascii=False, indent=1).encode(),
                  "likes.json": b'{"type": "OrderedCollection", "orderedItems": []}',
                  "bookmarks.json": b'{"type": "OrderedCollection", "orderedItems": []}',
                  "avatar.png": png(120, 120, "avatar")})  # fmt: skip
    with tarfile.open(path, "w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def build_facebook(site: Any, path: Path) -> Path:
    a = site.account
    posts = site.visible_posts() + [old_post(site, "old")]
    rows, files = [], {}
    for p in posts:
        atts = []
        for name in p.photo_names():
            rel = f"your_facebook_activity/posts/media/Tijdlijnfoto's_{a.id}/{name}.png"
            files[rel] = png(320, 240, name)
            atts.append({"data": [{"media": {"uri": rel, "creation_timestamp": _ts(p.published),
                                             "title": "", "description": _meta(p.text)}}]})  # fmt: skip
        for u in p.links:
            atts.append({"data": [{"external_context": {"url": u}}]})
        rows.append({"timestamp": _ts(p.published), "attachments": atts,
                     "data": [{"post": _meta(p.text)}, {"update_timestamp": _ts(p.published)}],
                     "title": _meta(f"{a.name} updated their status.")})  # fmt: skip
    files["your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"] = json.dumps(rows, indent=2)
    files["profile_information/profile_information.json"] = json.dumps(
        {"profile_v2": {"name": {"full_name": _meta(a.name), "first_name": "", "last_name": ""}}}, indent=2)
    files["connections/followers/people_who_followed_you.json"] = json.dumps(
        {"followers_v2": [{"name": _meta(f"Volger {i} é"), "timestamp": 1714000000 + i} for i in range(3)]}, indent=2)
    return _zip(path, files)


def build_instagram(site: Any, path: Path) -> Path:
    a = site.account
    posts = site.visible_posts() + [old_post(site, "old")]
    rows, files = [], {}
    for p in posts:
        media = []
        for name in p.photo_names() or [p.id]:
            rel = f"media/posts/202405/{name}.png"
            files[rel] = png(320, 240, name)
            media.append({"uri": rel, "creation_timestamp": _ts(p.published), "media_metadata": {},
                          "title": "" if len(p.photo_names()) > 1 else _meta(p.text)})  # fmt: skip
        row: dict[str, Any] = {"media": media}
        if len(media) > 1:
            row.update(title=_meta(p.text), creation_timestamp=_ts(p.published))
        rows.append(row)
    files["your_instagram_activity/content/posts_1.json"] = json.dumps(rows, indent=2)
    stories = []
    for st in site.stories:
        rel = f"media/stories/202405/{st.id}.{'mp4' if st.video else 'png'}"
        files[rel] = video("mp4") if st.video else png(320, 240, st.id)
        stories.append({"uri": rel, "creation_timestamp": _ts(st.published), "title": _meta(st.text)})
    files["your_instagram_activity/content/stories.json"] = json.dumps({"ig_stories": stories}, indent=2)
    files["personal_information/personal_information/personal_information.json"] = json.dumps({"profile_user": [
        {"string_map_data": {"Username": {"value": a.handle}, "Name": {"value": _meta(a.name)}}}]}, indent=2)  # fmt: skip
    files["connections/followers_and_following/followers_1.json"] = json.dumps([
        {"title": "", "media_list_data": [], "string_list_data": [
            {"href": f"https://www.instagram.com/volger_{i}", "value": f"volger_{i}", "timestamp": 1714000000 + i}]}
        for i in range(4)], indent=2)  # fmt: skip
    files["connections/followers_and_following/following.json"] = json.dumps({"relationships_following": [
        {"title": "", "media_list_data": [], "string_list_data": [
            {"href": "https://www.instagram.com/rijksoverheid", "value": "rijksoverheid", "timestamp": 1700000000}]}]}, indent=2)  # fmt: skip
    return _zip(path, files)


def build_linkedin(site: Any, path: Path) -> Path:
    a = site.account
    shares = [{"Date": p.published.replace("T", " ").rstrip("Z"),
               "ShareLink": f"https://www.linkedin.com/feed/update/urn%3Ali%3Aactivity%3A{p.id}",
               "ShareCommentary": p.text, "SharedUrl": (p.links or [""])[0], "MediaUrl": "", "Visibility": "MEMBER_NETWORK"}
              for p in site.visible_posts() + [old_post(site, "6500000000000000001")]]  # fmt: skip
    notes = ('Notes:\n"When exporting your connection data, you may notice that some of the email addresses are '
             'missing. You will only see email addresses for connections who have allowed their connections to see '
             'or download their email address."\n\n')  # fmt: skip
    connections = [{"First Name": f"Volger{i}", "Last Name": "Test", "URL": f"https://www.linkedin.com/in/volger-{i}",
                    "Email Address": "", "Company": "Gemeente X", "Position": "Adviseur",
                    "Connected On": f"0{i + 1} May 2024"} for i in range(3)]  # fmt: skip
    return _zip(path, {
        "Shares.csv": _csv(shares),
        "Profile.csv": _csv([{"First Name": a.name, "Last Name": "", "Maiden Name": "", "Address": "",
                              "Birth Date": "", "Headline": a.bio, "Summary": a.bio, "Industry": "Government Administration",
                              "Zip Code": "", "Geo Location": a.location, "Twitter Handles": "", "Websites": a.website,
                              "Instant Messengers": ""}]),
        "Connections.csv": _csv(connections, notes),
        "Comments.csv": _csv([{"Date": "2024-05-06 21:00:00",
                               "Link": f"https://www.linkedin.com/feed/update/urn%3Ali%3Aactivity%3A{site.posts[1].id}",
                               "Message": "Dank voor alle reacties!"}]),
    })  # fmt: skip


def build_youtube(site: Any, path: Path) -> Path:
    a = site.account
    top = "Takeout/YouTube and YouTube Music"
    videos = site.visible_posts() + [old_post(site, "bzkOldVid01")]
    files: dict[str, bytes | str] = {}
    rows = []
    for p in videos:
        title = p.title or p.text[:40]
        rows.append({"Video ID": p.id, "Approx Duration (ms)": "2200", "Video Audio Language": "nl",
                     "Video Category": "News & Politics", "Video Description (Original)": p.text,
                     "Channel ID": site.channel_id, "Video Title (Original)": title, "Privacy": "Public",
                     "Video State": "Processed", "Video Create Timestamp": p.published.replace("T", " ").replace("Z", " UTC"),
                     "Video Publish Timestamp": p.published.replace("T", " ").replace("Z", " UTC")})  # fmt: skip
        files[f"{top}/videos/{title}.mp4"] = video("mp4")
    files[f"{top}/video metadata/videos.csv"] = _csv(rows)
    files[f"{top}/channels/channel.csv"] = _csv([{"Channel ID": site.channel_id, "Channel Title (Original)": a.name,
                                                  "Channel Visibility": "Public"}])  # fmt: skip
    files[f"{top}/comments/comments.csv"] = _csv([{
        "Comment ID": "UgzBzkExportComment01", "Channel ID": site.channel_id,
        "Comment Create Timestamp": "2024-05-06 21:00:00 UTC", "Price": "", "Parent Comment ID": "",
        "Post ID": "", "Video ID": site.posts[1].id,
        "Comment Text": json.dumps({"text": "Dank voor het kijken! "}, ensure_ascii=False) + ","
        + json.dumps({"text": "Meer info op rijksoverheid.nl"}, ensure_ascii=False)}])  # fmt: skip
    return _zip(path, files)


BUILDERS = {
    "x": build_x,
    "mastodon": build_mastodon,
    "facebook": build_facebook,
    "instagram": build_instagram,
    "linkedin": build_linkedin,
    "youtube": build_youtube,
}


def build_export(site: PlatformSite, path: Path) -> Path:
    """The fixture account's export in its platform's format."""
    return BUILDERS[site.platform](site, path)
