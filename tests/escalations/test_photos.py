"""Photos: checked by content, size and pixel caps, re-encoded without metadata, served only to those who
may see the report."""

import io
import struct
import zlib

import pytest
from PIL import Image

from app.core.errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from app.escalations.photos import clean_photo
from tests.escalations.helpers import jpeg_with_gps, png_bytes, report
from tests.helpers import assert_problem, audit_actions


def huge_png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * 3 * 8
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * 8))
            + chunk(b"IEND", b""))


class TestCleanPhoto:
    def test_gps_and_every_exif_tag_are_gone(self):
        raw = jpeg_with_gps()
        assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # the input really has GPS
        photo = clean_photo(raw)
        cleaned = Image.open(io.BytesIO(photo.data))
        assert cleaned.format == "JPEG" and photo.content_type == "image/jpeg"
        assert dict(cleaned.getexif()) == {} and "exif" not in cleaned.info
        assert b"PhoneMaker" not in photo.data and b"Secret Camera" not in photo.data and b"GPS" not in photo.data

    def test_orientation_is_applied_to_the_pixels_before_the_tag_goes(self):
        photo = clean_photo(jpeg_with_gps(size=(64, 48), orientation=6))  # 6: rotate 90 degrees to show
        assert (photo.width, photo.height) == (48, 64)

    def test_png_keeps_its_transparency_and_format(self):
        photo = clean_photo(png_bytes(mode="RGBA"))
        image = Image.open(io.BytesIO(photo.data))
        assert image.format == "PNG" and image.mode == "RGBA"

    def test_webp_is_accepted(self):
        output = io.BytesIO()
        Image.new("RGB", (20, 20), (1, 2, 3)).save(output, "WEBP")
        assert clean_photo(output.getvalue()).content_type == "image/webp"

    @pytest.mark.parametrize("raw", [b"GIF89a" + b"\x00" * 40, b"%PDF-1.7 not a picture", b"\xff\xd8\xff garbage"])
    def test_other_content_is_refused_whatever_it_claims(self, raw):
        with pytest.raises((UnsupportedMediaType, Invalid)):
            clean_photo(raw)

    def test_gif_is_not_one_of_the_accepted_formats(self):
        output = io.BytesIO()
        Image.new("RGB", (4, 4)).save(output, "GIF")
        with pytest.raises(UnsupportedMediaType):
            clean_photo(output.getvalue())

    def test_truncated_picture_is_refused(self):
        raw = jpeg_with_gps(size=(400, 300))
        with pytest.raises(Invalid):
            clean_photo(raw[: len(raw) // 2])

    def test_decompression_bomb_is_refused_before_decoding(self):
        with pytest.raises(PayloadTooLarge):
            clean_photo(huge_png_header(8000, 6000))  # 48 megapixels in a few hundred bytes
        with pytest.raises(PayloadTooLarge):
            clean_photo(huge_png_header(40000, 40000))  # beyond Pillow's own bomb limit too

    def test_size_cap(self):
        with pytest.raises(PayloadTooLarge):
            clean_photo(b"\xff" * 101, max_bytes=100)

    def test_large_photos_are_scaled_down(self):
        output = io.BytesIO()
        Image.new("RGB", (6000, 1000), (9, 9, 9)).save(output, "JPEG")
        photo = clean_photo(output.getvalue())
        assert max(photo.width, photo.height) == 4096


class TestUploadAttachment:
    def upload(self, client, world, escalation_id, raw, who="officer", name="photo.jpg", content_type="image/jpeg"):
        return client.post(f"/api/v1/escalations/{escalation_id}/attachments",
                           files={"file": (name, raw, content_type)}, headers=world.headers(who))

    def test_reporter_uploads_and_command_sees_the_clean_photo(self, client, world):
        mine = report(client, world, summary="crowd surge")
        response = self.upload(client, world, mine["id"], jpeg_with_gps())
        assert response.status_code == 201, response.text
        attachment = response.json()
        assert attachment["content_type"] == "image/jpeg" and attachment["url"].endswith(attachment["id"])
        for who in ("officer", "bronze", "gold"):
            served = client.get(attachment["url"], headers=world.headers(who))
            assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
            assert dict(Image.open(io.BytesIO(served.content)).getexif()) == {}
            assert b"GPS" not in served.content
        listed = client.get(f"/api/v1/escalations/{mine['id']}", headers=world.headers("bronze")).json()
        assert [a["id"] for a in listed["attachments"]] == [attachment["id"]]
        assert audit_actions("escalation.attachment_added") == ["escalation.attachment_added"]
        assert len(audit_actions("escalation.attachment_viewed")) == 3

    def test_photo_is_hidden_from_everyone_else(self, client, world):
        mine = report(client, world)
        url = self.upload(client, world, mine["id"], jpeg_with_gps()).json()["url"]
        for who in ("officer2", "outsider", "other_bronze", "comms"):
            assert_problem(client.get(url, headers=world.headers(who)), 404)
        assert_problem(client.get(url), 401)

    def test_only_the_reporter_uploads(self, client, world):
        mine = report(client, world)
        assert_problem(self.upload(client, world, mine["id"], jpeg_with_gps(), who="bronze"), 403)
        assert_problem(self.upload(client, world, mine["id"], jpeg_with_gps(), who="officer2"), 404)
        assert audit_actions("escalation.attachment_added") == []

    def test_the_same_photo_again_is_the_same_attachment(self, client, world):
        mine = report(client, world)
        first = self.upload(client, world, mine["id"], jpeg_with_gps())
        again = self.upload(client, world, mine["id"], jpeg_with_gps())
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert len(audit_actions("escalation.attachment_added")) == 1

    def test_not_an_image_despite_name_and_type(self, client, world):
        mine = report(client, world)
        response = self.upload(client, world, mine["id"], b"<html>not a photo</html>", name="photo.jpg")
        assert_problem(response, 415)
        assert audit_actions("escalation.attachment_added") == []

    def test_bomb_and_oversize_are_413(self, client, world):
        mine = report(client, world)
        assert_problem(self.upload(client, world, mine["id"], huge_png_header(8000, 6000), name="x.png",
                                   content_type="image/png"), 413)
        assert_problem(self.upload(client, world, mine["id"], b"\xff\xd8" + b"\x00" * (10 * 1024 * 1024 + 10)), 413)

    def test_missing_file_is_422(self, client, world):
        mine = report(client, world)
        response = client.post(f"/api/v1/escalations/{mine['id']}/attachments", headers=world.headers("officer"))
        assert_problem(response, 422)

    def test_at_most_five_photos(self, client, world):
        mine = report(client, world)
        for shade in range(5):
            output = io.BytesIO()
            Image.new("RGB", (8, 8), (shade, 0, 0)).save(output, "PNG")
            assert self.upload(client, world, mine["id"], output.getvalue(), name="p.png").status_code == 201
        assert_problem(self.upload(client, world, mine["id"], jpeg_with_gps()), 409)
