"""Payload adapters: contract, WordPress (real post object), Contentful (real webhook bodies), Ghost."""

from __future__ import annotations

import json

import pytest

from service.adapters import ACCEPTED_SHAPES, adapt
from service.adapters.contentful import flatten_rich_text, publisher_config
from service.errors import ApiError


def _shared_json(shared_dir, name):
    path = shared_dir / "data" / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/data is staged on the team's machines only, not in a clone)")
    return json.loads(path.read_text(encoding="utf-8"))


def test_contract_item_passes_through_with_publisher():
    a = adapt({"id": "c1", "title": "T", "body": "<p>x</p>"}, publisher="example-news")
    assert a.shape == "contract"
    assert a.item["publisher"] == "example-news" and a.item["id"] == "c1"
    assert a.body_html == "<p>x</p>" and a.body_is_html


def test_contract_item_publisher_mismatch_is_422():
    with pytest.raises(ApiError) as err:
        adapt({"title": "T", "publisher": "other"}, publisher="example-news")
    assert err.value.status == 422 and err.value.code == "publisher_mismatch" and err.value.field == "publisher"


def test_contract_item_invalid_field_names_it():
    with pytest.raises(ApiError) as err:
        adapt({"title": "T", "type": "podcast"}, publisher="default")
    assert err.value.status == 422 and err.value.field == "type"


@pytest.mark.parametrize("payload", [{"foo": 1}, {"post": {"previous": {}}}, {"title": {"x": 1}}, {"sys": {"type": "Asset"}}])
def test_unknown_shape_lists_accepted_shapes(payload):
    with pytest.raises(ApiError) as err:
        adapt(payload, publisher="default")
    assert err.value.status == 422 and err.value.code == "unknown_payload_shape"
    for shape in ("contract content item", "WordPress REST API post", "Contentful Entry.publish", "Ghost post webhook"):
        assert shape in err.value.message
    assert len(ACCEPTED_SHAPES) == 4


def test_non_object_payload_is_unknown_shape():
    with pytest.raises(ApiError) as err:
        adapt([1, 2], publisher="default")
    assert err.value.code == "unknown_payload_shape"


def test_wordpress_real_post_object(shared_dir):
    post = _shared_json(shared_dir, "wordpress_posts.json")[0]
    a = adapt(post, publisher="example-news")
    assert a.shape == "wordpress"
    assert a.item["id"] == "4"
    assert a.item["title"] == "REST API Client Fixture: Post"
    assert a.item["body_format"] == "html"
    assert a.body_html == "<p>Updated post content.</p>\n"
    # The excerpt is not part of the content, so it is moderated too (after the content).
    assert a.item["body"].startswith(a.body_html) and "REST API Client Fixture: Post" in a.item["body"]
    assert a.item["url"] == "http://example.org/?p=4"
    assert "media" not in a.item and "tags" not in a.item  # no _embedded in this object


def test_wordpress_embedded_media_and_terms(shared_dir):
    post = _shared_json(shared_dir, "wordpress_posts.json")[0]
    post = {**post, "title": {"rendered": "Strike &#8217;aftermath&#8217;"},
            "excerpt": {"rendered": "<p>Updated post content.</p>\n", "protected": False},
            "_embedded": {
                "wp:featuredmedia": [{"id": 9, "source_url": "https://cdn.example/a.jpg", "alt_text": "Smoke over the city",
                                      "caption": {"rendered": "<p>Still from a video released by Amaq</p>\n"},
                                      "mime_type": "image/jpeg", "media_details": {"image_meta": {"credit": "Amaq"}}}],
                "wp:term": [[{"taxonomy": "category", "name": "World"}], [{"taxonomy": "post_tag", "name": "Syria &amp; Iraq"}]],
            }}
    a = adapt(post, publisher="example-news")
    assert a.item["title"] == "Strike \u2019aftermath\u2019"
    assert a.item["body"] == a.body_html  # excerpt already inside the content
    assert a.item["media"] == [{"id": "wp-media-9", "type": "image", "url": "https://cdn.example/a.jpg",
                                "caption": "Still from a video released by Amaq", "alt_text": "Smoke over the city", "credit": "Amaq"}]
    assert a.item["tags"] == ["World", "Syria & Iraq"]


def test_contentful_real_webhook_bodies(shared_dir):
    home, page = _shared_json(shared_dir, "contentful_webhook_sample.json")
    headers = {"X-Contentful-Topic": "ContentManagement.Entry.publish"}
    a = adapt(home, publisher="default", headers=headers)
    assert a.shape == "contentful"
    assert a.item["id"] == "5bfZXM2wx8fCAb60IuLDdH"
    assert a.item["title"] == "Adventure Trips"
    assert a.item["body"].startswith("We are a boutique tour operator")
    assert a.item["body_format"] == "text" and a.item["language"] == "en"
    assert a.item["media"] == [{"id": "asset-1CKhMZljDByaL0tfwUXd6A", "type": "image"}]
    assert not a.body_is_html and a.body_html == a.item["body"]
    b = adapt(page, publisher="default")  # recognised by its shape even without the header
    assert b.item["id"] == "20Nz2Y1oRRDkCeAJ8Anbvd" and b.item["body"] == "Test" and "title" not in b.item


def test_contentful_publisher_mapping_per_content_type():
    assert publisher_config("example-news")["content_types"]["article"]["title"] == ["headline"]
    assert publisher_config("no-such-publisher") == publisher_config("default")
    entry = {"sys": {"type": "Entry", "id": "e1", "contentType": {"sys": {"id": "article"}}},
             "fields": {"headline": {"en-US": "Headline"}, "title": {"en-US": "Not this"},
                        "body": {"en-US": {"nodeType": "document", "data": {}, "content": [
                            {"nodeType": "heading-2", "data": {}, "content": [{"nodeType": "text", "value": "Part one", "marks": [], "data": {}}]},
                            {"nodeType": "paragraph", "data": {}, "content": [
                                {"nodeType": "text", "value": "See ", "marks": [], "data": {}},
                                {"nodeType": "hyperlink", "data": {"uri": "https://x"}, "content": [{"nodeType": "text", "value": "this", "marks": [], "data": {}}]},
                                {"nodeType": "text", "value": ".", "marks": [], "data": {}}]},
                            {"nodeType": "embedded-entry-block", "data": {"target": {"sys": {"id": "z"}}}, "content": []}]}},
                        "heroImage": {"en-US": {"sys": {"type": "Link", "linkType": "Asset", "id": "img1"}}},
                        "tags": {"en-US": ["war", "syria"]}}}
    a = adapt(entry, publisher="example-news", headers={"x-contentful-topic": "ContentManagement.Entry.publish"})
    assert a.item["title"] == "Headline"
    assert a.item["body"] == "Part one\n\nSee this."
    assert a.item["media"] == [{"id": "asset-img1", "type": "image"}]
    assert a.item["tags"] == ["war", "syria"]


def test_contentful_unpublish_topic_is_refused():
    entry = {"sys": {"type": "Entry", "id": "e1"}, "fields": {}}
    with pytest.raises(ApiError) as err:
        adapt(entry, publisher="default", headers={"X-Contentful-Topic": "ContentManagement.Entry.unpublish"})
    assert err.value.code == "unsupported_topic"


def test_flatten_rich_text_lists():
    doc = {"nodeType": "document", "content": [{"nodeType": "unordered-list", "content": [
        {"nodeType": "list-item", "content": [{"nodeType": "paragraph", "content": [{"nodeType": "text", "value": "a"}]}]},
        {"nodeType": "list-item", "content": [{"nodeType": "paragraph", "content": [{"nodeType": "text", "value": "b"}]}]}]}]}
    assert flatten_rich_text(doc) == "a\n\nb"


def test_ghost_post_webhook():
    payload = {"post": {"current": {
        "id": "65f0c0ffee", "uuid": "u-1", "title": "Aftermath", "html": "<p>Bodies in the street.</p><figure><img src=\"https://g/x.jpg\"></figure>",
        "feature_image": "https://g/feature.jpg", "feature_image_alt": "Rubble", "feature_image_caption": "<span>Photo: <a href=\"#\">Agency</a></span>",
        "tags": [{"name": "World"}], "url": "https://blog/aftermath/"}, "previous": {}}}
    a = adapt(payload, publisher="example-news")
    assert a.shape == "ghost"
    assert a.item["id"] == "65f0c0ffee" and a.item["title"] == "Aftermath" and a.item["body_format"] == "html"
    assert a.item["media"] == [{"id": "feature_image", "type": "image", "url": "https://g/feature.jpg",
                                "alt_text": "Rubble", "caption": "Photo: Agency"}]
    assert a.item["tags"] == ["World"] and a.body_html == payload["post"]["current"]["html"]
