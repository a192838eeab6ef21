"""The mock upstream's video job APIs over real HTTP on loopback: the OpenAI
Videos API (create JSON or multipart, retrieve, content with Range, delete) and
the Runway task API (text/image to video, tasks, cancel), with the per-job
controls (duration, steps, outcome, stall, poll_fail, Retry-After, throttle,
content size), Idempotency-Key, the per-job counters and tag lookups of
/_mock/stats and /_mock/jobs, reset, and submits from many threads at once."""
import json
import re
import socket
import threading
import time
import unittest
import urllib.parse

from harness import Mock, http, wait_for

RUNWAY = {"X-Runway-Version": "2024-11-06"}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$")
VIDEO_FIELDS = {"id", "object", "model", "status", "progress", "created_at", "completed_at",
                "expires_at", "prompt", "size", "seconds", "remixed_from_video_id", "error"}

# The mock's file bytes (bench/mock/mp4.h): ftyp box, mdat header, pattern.
PATTERN = bytes(((k * 131) + (k >> 8)) & 0xFF for k in range(65536))


def mp4_bytes(total):
    head = (bytes([0, 0, 0, 0x18]) + b"ftypisom" + bytes([0, 0, 2, 0]) + b"isommp41" +
            (total - 24).to_bytes(4, "big") + b"mdat")
    rep = PATTERN * (total // len(PATTERN) + 1)
    return head + rep[32:total]


def poll_until(fn, done, timeout=10.0):
    """Calls fn() until done(result); returns every result, in order."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = fn()
        seen.append(r)
        if done(r):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"not done within {timeout}s; last: {seen[-1] if seen else None}")


class MockJobsBase(unittest.TestCase):
    mock_args = ()

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock(*cls.mock_args)

    @classmethod
    def tearDownClass(cls):
        rc = cls.mock.stop()
        assert rc == 0, f"mock exit {rc}\n{cls.mock.proc.log()}"

    def setUp(self):
        self.mock.reset()

    def post(self, path, body, headers=None):
        return http("POST", self.mock.url + path, body=body, headers=headers)

    def get(self, path, headers=None):
        return http("GET", self.mock.url + path, headers=headers)

    def delete(self, path, headers=None):
        return http("DELETE", self.mock.url + path, headers=headers)

    def video(self, model="sora-2", prompt="a wave", headers=None, **extra):
        r = self.post("/v1/videos", {"model": model, "prompt": prompt, **extra}, headers)
        self.assertEqual(r.status, 200, r)
        return r.json()


class OpenAIVideos(MockJobsBase):
    def test_create_poll_complete(self):
        v = self.video("sora-2+duration_ms=600", "a wave at dusk", seconds="8", size="1280x720")
        self.assertEqual(set(v) - {"quality"}, VIDEO_FIELDS)
        self.assertTrue(v["id"].startswith("video_mock"))
        self.assertEqual((v["object"], v["status"], v["progress"]), ("video", "queued", 0))
        self.assertEqual((v["model"], v["prompt"], v["seconds"], v["size"]),
                         ("sora-2+duration_ms=600", "a wave at dusk", "8", "1280x720"))
        self.assertIsNone(v["completed_at"])
        self.assertIsNone(v["error"])
        seen = poll_until(lambda: self.get("/v1/videos/" + v["id"]).json(),
                          lambda r: r["status"] == "completed")
        order = {"queued": 0, "in_progress": 1, "completed": 2}
        st = [order[r["status"]] for r in seen]
        self.assertEqual(st, sorted(st))
        prog = [r["progress"] for r in seen]
        self.assertEqual(prog, sorted(prog))
        self.assertTrue(any(0 < r["progress"] < 100 for r in seen if r["status"] == "in_progress"),
                        prog)
        last = seen[-1]
        self.assertEqual(last["progress"], 100)
        self.assertGreaterEqual(last["completed_at"], last["created_at"])
        self.assertGreater(last["expires_at"], last["completed_at"])
        job = self.mock.stats()["jobs"][v["id"]]
        self.assertEqual((job["submissions"], job["polls"], job["status"]),
                         (1, len(seen), "completed"))

    def test_multipart_create(self):
        boundary = "xYzBoundary"
        parts = [("model", "sora-2-pro"), ("prompt", "form prompt"), ("seconds", "12"),
                 ("size", "1792x1024")]
        body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                       for k, v in parts) + f"--{boundary}--\r\n"
        r = self.post("/v1/videos", body,
                      {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(r.status, 200, r)
        v = r.json()
        self.assertEqual((v["model"], v["prompt"], v["seconds"], v["size"]),
                         ("sora-2-pro", "form prompt", "12", "1792x1024"))
        self.assertEqual(self.mock.jobs(tag="form prompt")["count"], 1)

    def test_steps(self):
        v = self.video("sora-2+duration_ms=1200+steps=4")
        seen = poll_until(lambda: self.get("/v1/videos/" + v["id"]).json(),
                          lambda r: r["status"] == "completed")
        running = {r["progress"] for r in seen if r["status"] == "in_progress"}
        self.assertTrue(running <= {0, 25, 50, 75}, running)
        self.assertGreaterEqual(len(running), 2, running)

    def test_fail_outcome(self):
        for model in ("sora-2+outcome=fail+duration_ms=0", "sora-2+fault=fail+duration_ms=0"):
            v = self.video(model)
            r = self.get("/v1/videos/" + v["id"]).json()
            self.assertEqual(r["status"], "failed", r)
            self.assertEqual(r["error"]["code"], "generation_failed")
            self.assertTrue(r["error"]["message"])
            c = self.get(f"/v1/videos/{v['id']}/content")
            self.assertEqual(c.status, 404)

    def test_content_and_range(self):
        total = 3 * 1024 * 1024 + 17
        v = self.video("sora-2+duration_ms=0", headers={"x-mock-content-bytes": str(total)})
        want = mp4_bytes(total)
        r = self.get(f"/v1/videos/{v['id']}/content")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "video/mp4")
        self.assertEqual(r.headers["accept-ranges"], "bytes")
        self.assertEqual(int(r.headers["content-length"]), total)
        self.assertEqual(r.body, want)
        cases = [("bytes=100-199", 100, 200), ("bytes=0-0", 0, 1), ("bytes=-10", total - 10, total),
                 (f"bytes={total - 5}-", total - 5, total),
                 (f"bytes=65530-{total + 50}", 65530, total)]
        for rng, a, b in cases:
            r = self.get(f"/v1/videos/{v['id']}/content", {"Range": rng})
            self.assertEqual(r.status, 206, rng)
            self.assertEqual(r.headers["content-range"], f"bytes {a}-{b - 1}/{total}", rng)
            self.assertEqual(r.body, want[a:b], rng)
        r = self.get(f"/v1/videos/{v['id']}/content", {"Range": f"bytes={total}-"})
        self.assertEqual(r.status, 416)
        self.assertEqual(r.headers["content-range"], f"bytes */{total}")
        self.assertEqual(self.mock.job(v["id"])["content_fetches"], 2 + len(cases))
        self.assertEqual(self.mock.stats()["video_content"], 2 + len(cases))

    def test_content_not_ready(self):
        v = self.video("sora-2+duration_ms=60000")
        r = self.get(f"/v1/videos/{v['id']}/content")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "not_ready")

    def test_delete(self):
        v = self.video("sora-2+duration_ms=60000")
        r = self.delete("/v1/videos/" + v["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"id": v["id"], "object": "video.deleted", "deleted": True})
        r = self.get("/v1/videos/" + v["id"])
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "not_found")
        self.assertEqual(self.delete("/v1/videos/" + v["id"]).status, 404)
        self.assertEqual(self.get(f"/v1/videos/{v['id']}/content").status, 404)
        job = self.mock.job(v["id"])
        self.assertEqual((job["cancels"], job["deleted"]), (1, True))
        self.assertEqual(self.delete("/v1/videos/video_mock99999999").status, 404)

    def test_stall_then_release(self):
        v = self.video("sora-2+duration_ms=200+outcome=stall")
        t_end = time.monotonic() + 0.6  # three times the job's duration
        seen = []
        while time.monotonic() < t_end:
            seen.append(self.get("/v1/videos/" + v["id"]).json())
            time.sleep(0.02)
        self.assertNotIn("completed", {r["status"] for r in seen})
        self.assertEqual((seen[-1]["status"], seen[-1]["progress"]), ("in_progress", 50))
        self.mock.job(v["id"], outcome="succeed")
        self.assertEqual(self.get("/v1/videos/" + v["id"]).json()["status"], "completed")

    def test_poll_fail_and_retry_after(self):
        v = self.video("sora-2+duration_ms=0+poll_fail=2+poll_retry_after=3")
        for _ in range(2):
            r = self.get("/v1/videos/" + v["id"])
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.headers.get("retry-after"), "3")
            self.assertEqual(r.json()["error"]["type"], "server_error")
        r = self.get("/v1/videos/" + v["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("retry-after"), "3")
        self.assertEqual(self.mock.job(v["id"])["polls"], 3)

        v = self.video("sora-2+duration_ms=0+poll_fail=always+poll_fail_status=500")
        for _ in range(5):
            self.assertEqual(self.get("/v1/videos/" + v["id"]).status, 500)
        self.mock.job(v["id"], poll_fail=0)
        self.assertEqual(self.get("/v1/videos/" + v["id"]).status, 200)

    def test_idempotency_key(self):
        h = {"Idempotency-Key": "idem-1"}
        a = self.video("sora-2", "same", headers=h)
        b = self.video("sora-2", "same", headers=h)
        c = self.video("sora-2", "same", headers={"Idempotency-Key": "idem-2"})
        d = self.video("sora-2", "same")
        self.assertEqual(a["id"], b["id"])
        self.assertEqual(len({a["id"], c["id"], d["id"]}), 3)
        s = self.mock.stats()
        self.assertEqual((s["jobs_created"], s["job_duplicate_submits"], s["video_submit"]),
                         (3, 1, 4))
        self.assertEqual(s["jobs"][a["id"]]["submissions"], 2)
        t = self.mock.jobs(tag="same")
        self.assertEqual((t["count"], t["submissions"]), (3, 4))

    def test_submit_faults(self):
        # A status fault: the provider refused, no job exists.
        r = self.post("/v1/videos", {"model": "sora-2+fault=429", "prompt": "refused"})
        self.assertEqual(r.status, 429)
        self.assertEqual(self.mock.jobs(tag="refused")["count"], 0)
        # A dropped connection: the job was accepted and the answer lost.
        with self.assertRaises((ConnectionError, OSError)):
            self.post("/v1/videos", {"model": "sora-2+fault=drop", "prompt": "accepted"})
        t = self.mock.jobs(tag="accepted")
        self.assertEqual((t["count"], t["submissions"]), (1, 1))

    def test_list(self):
        ids = [self.video(prompt=f"list {i}")["id"] for i in range(5)]
        self.assertEqual(self.delete("/v1/videos/" + ids[2]).status, 200)
        self.post("/v1/text_to_video", {"model": "gen4_turbo", "promptText": "x"}, RUNWAY)
        r = self.get("/v1/videos?limit=2")
        self.assertEqual(r.status, 200, r)
        page = r.json()
        self.assertEqual(page["object"], "list")
        self.assertEqual([v["id"] for v in page["data"]], [ids[4], ids[3]])
        self.assertEqual((page["first_id"], page["last_id"], page["has_more"]),
                         (ids[4], ids[3], True))
        page = self.get("/v1/videos?limit=2&after=" + ids[3]).json()
        self.assertEqual([v["id"] for v in page["data"]], [ids[1], ids[0]])
        self.assertFalse(page["has_more"])
        page = self.get("/v1/videos?order=asc").json()
        self.assertEqual([v["id"] for v in page["data"]], [ids[0], ids[1], ids[3], ids[4]])
        self.assertEqual(set(page["data"][0]) - {"quality", "url"}, VIDEO_FIELDS)

    def test_errors(self):
        self.assertEqual(self.get("/v1/videos/video_mock99999999").status, 404)
        self.assertEqual(self.get("/v1/videos/nonsense").status, 404)
        self.assertEqual(http("PUT", self.mock.url + "/v1/videos/video_mock1", body=b"").status,
                         405)
        self.assertEqual(self.delete(f"/v1/videos/video_mock1/content").status, 405)


class RunwayTasks(MockJobsBase):
    def task(self, model="gen4_turbo", prompt="a dog", path="/v1/text_to_video", headers=None,
             **extra):
        body = {"model": model, **extra}
        if prompt is not None:
            body["promptText"] = prompt
        r = self.post(path, body, {**RUNWAY, **(headers or {})})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json()), {"id"})
        self.assertRegex(r.json()["id"], UUID_RE)
        return r.json()["id"]

    def status(self, tid):
        r = self.get("/v1/tasks/" + tid, RUNWAY)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_version_header_and_validation(self):
        r = self.post("/v1/text_to_video", {"model": "gen4_turbo", "promptText": "x"})
        self.assertEqual(r.status, 400)
        self.assertIsInstance(r.json()["error"], str)
        self.assertIn("X-Runway-Version", r.json()["error"])
        r = self.post("/v1/text_to_video", {"model": "gen4_turbo"}, RUNWAY)
        self.assertEqual(r.status, 400)
        self.assertIn("promptText", r.json()["error"])
        r = self.post("/v1/image_to_video", {"model": "gen4_turbo", "promptText": "x"}, RUNWAY)
        self.assertEqual(r.status, 400)
        self.assertIn("promptImage", r.json()["error"])
        r = self.post("/v1/text_to_video", {"promptText": "x"}, RUNWAY)
        self.assertEqual(r.status, 400)
        self.assertIsInstance(r.json()["error"], str)
        tid = self.task()
        self.assertEqual(self.get("/v1/tasks/" + tid).status, 400)
        self.assertEqual(self.mock.stats()["jobs_created"], 1)

    def test_lifecycle_with_throttle(self):
        tid = self.task("gen4_turbo+throttle_ms=300+duration_ms=800", "lifecycle")
        seen = poll_until(lambda: self.status(tid), lambda r: r["status"] == "SUCCEEDED")
        order = {"THROTTLED": 0, "PENDING": 1, "RUNNING": 2, "SUCCEEDED": 3}
        st = [order[r["status"]] for r in seen]
        self.assertEqual(st, sorted(st))
        self.assertEqual(st[0], 0)
        self.assertIn(2, st)
        for r in seen:
            self.assertEqual(r["id"], tid)
            self.assertRegex(r["createdAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual("progress" in r, r["status"] == "RUNNING", r)
        prog = [r["progress"] for r in seen if r["status"] == "RUNNING"]
        self.assertEqual(prog, sorted(prog))
        self.assertTrue(all(0 <= p < 1 for p in prog), prog)
        out = seen[-1]["output"]
        self.assertEqual(len(out), 1)
        self.assertTrue(out[0].endswith(f"/_mock/files/{tid}.mp4"), out)
        f = http("GET", out[0])
        self.assertEqual((f.status, f.headers["content-type"]), (200, "video/mp4"))
        self.assertEqual(f.body, mp4_bytes(32))
        job = self.mock.job(tid)
        self.assertEqual((job["api"], job["tag"], job["polls"], job["content_fetches"]),
                         ("runway", "lifecycle", len(seen), 1))

    def test_image_to_video_and_output_size(self):
        tid = self.task("gen4_turbo+duration_ms=0+content_bytes=200000", None,
                        "/v1/image_to_video", promptImage="https://example.com/a.png")
        r = self.status(tid)
        self.assertEqual(r["status"], "SUCCEEDED")
        f = http("GET", r["output"][0], headers={"Range": "bytes=199990-"})
        self.assertEqual(f.status, 206)
        self.assertEqual(f.body, mp4_bytes(200000)[199990:])
        self.assertEqual(self.mock.jobs(tag="https://example.com/a.png")["count"], 1)

    def test_failed(self):
        tid = self.task("gen4_turbo+duration_ms=0+outcome=fail")
        r = self.status(tid)
        self.assertEqual(r["status"], "FAILED")
        self.assertTrue(r["failure"])
        self.assertTrue(r["failureCode"])
        self.assertNotIn("output", r)

    def test_cancel_then_delete(self):
        tid = self.task("gen4_turbo+duration_ms=60000")
        wait_for(lambda: self.status(tid)["status"] == "RUNNING", timeout=10, what="RUNNING")
        r = self.delete("/v1/tasks/" + tid, RUNWAY)
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertEqual(self.status(tid)["status"], "CANCELLED")
        self.assertEqual(self.delete("/v1/tasks/" + tid, RUNWAY).status, 204)  # now deleted
        r = self.get("/v1/tasks/" + tid, RUNWAY)
        self.assertEqual(r.status, 404)
        self.assertIsInstance(r.json()["error"], str)
        self.assertEqual(self.delete("/v1/tasks/" + tid, RUNWAY).status, 404)
        job = self.mock.job(tid)
        self.assertEqual((job["cancels"], job["deleted"]), (2, True))
        self.assertEqual(self.mock.stats()["runway_cancel"], 3)

    def test_stall_poll_fail_retry_after(self):
        tid = self.task("gen4_turbo+duration_ms=100+outcome=stall+poll_fail=1+poll_retry_after=2")
        r = self.get("/v1/tasks/" + tid, RUNWAY)
        self.assertEqual(r.status, 503)
        self.assertEqual(r.headers.get("retry-after"), "2")
        self.assertIsInstance(r.json()["error"], str)
        t_end = time.monotonic() + 0.4
        while time.monotonic() < t_end:
            r = self.status(tid)
            self.assertIn(r["status"], ("PENDING", "RUNNING"))
            time.sleep(0.02)
        self.assertEqual((r["status"], r["progress"]), ("RUNNING", 0.5))

    def test_idempotency_and_ids_are_per_api(self):
        h = {"Idempotency-Key": "shared-key"}
        a = self.task(headers=h)
        b = self.task(headers=h)
        self.assertEqual(a, b)
        v = self.post("/v1/videos", {"model": "sora-2", "prompt": "p"}, h).json()
        self.assertNotEqual(v["id"], a)  # another API: another job
        # A Runway id is not an OpenAI video, nor the other way round.
        self.assertEqual(self.get("/v1/videos/" + a).status, 404)
        self.assertEqual(self.get("/v1/tasks/" + v["id"], RUNWAY).status, 404)
        s = self.mock.stats()
        self.assertEqual((s["jobs_created"], s["job_duplicate_submits"]), (2, 1))
        self.assertEqual(s["jobs"][a]["submissions"], 2)


class JobStats(MockJobsBase):
    def test_tags_and_reset(self):
        a = self.post("/v1/videos", {"model": "sora-2", "prompt": "p1"},
                      {"x-mock-tag": "my tag/1+x"}).json()
        t = self.mock.jobs(tag="my tag/1+x")
        self.assertEqual([j["id"] for j in t["jobs"]], [a["id"]])
        self.assertEqual(self.mock.jobs(tag="p1")["count"], 0)  # the header wins
        self.assertEqual(self.mock.jobs()["count"], 1)
        s = http("GET", self.mock.url + "/_mock/stats?jobs=0").json()
        self.assertNotIn("jobs", s)
        self.assertEqual(s["jobs_created"], 1)
        self.assertEqual(self.get("/_mock/jobs/nope").status, 404)
        r = http("POST", self.mock.url + "/_mock/jobs/" + a["id"], body={"outcome": "bogus"})
        self.assertEqual(r.status, 400)
        self.mock.reset()
        s = self.mock.stats()
        self.assertEqual((s["jobs"], s["jobs_created"], s["video_submit"]), ({}, 0, 0))
        self.assertEqual(self.get("/v1/videos/" + a["id"]).status, 404)
        b = self.video()
        self.assertNotEqual(a["id"], b["id"])  # numbers go on after a reset


class Concurrency(MockJobsBase):
    mock_args = ("--threads", "4")

    def test_parallel_submits_and_polls(self):
        keys = [f"k{i}" for i in range(50)]
        ids = {}
        errors = []
        lock = threading.Lock()

        def worker(slot):
            try:
                for i in range(slot, 200, 8):
                    k = keys[i % 50]
                    r = self.post("/v1/videos", {"model": "sora-2+duration_ms=300", "prompt": k},
                                  {"Idempotency-Key": k})
                    vid = r.json()["id"]
                    self.get("/v1/videos/" + vid)
                    with lock:
                        ids.setdefault(k, set()).add(vid)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertTrue(all(len(v) == 1 for v in ids.values()), ids)
        s = self.mock.stats()
        self.assertEqual((s["jobs_created"], s["job_duplicate_submits"]), (50, 150))
        self.assertEqual(len(s["jobs"]), 50)
        for j in s["jobs"].values():
            self.assertEqual((j["submissions"], j["polls"]), (4, 4), j)


class MockShutdown(unittest.TestCase):
    def test_stop_right_after_requests_is_clean(self):
        # A connection closed just before SIGTERM used to leak its bufferevent
        # (LeakSanitizer in about 1 stop of 3): ten stops in a row, all clean.
        for _ in range(10):
            m = Mock()
            for _ in range(3):
                http("GET", m.url + "/_mock/stats?jobs=0")
            self.assertEqual(m.stop(), 0)


if __name__ == "__main__":
    unittest.main()
