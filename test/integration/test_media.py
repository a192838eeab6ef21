"""Media tasks (src/media executors and routes, issue 19) against the mock's
OpenAI videos API and a real Postgres: a video from submit to content
through the native route and the OpenAI-compatible one (JSON and
multipart), Range on content, cancel reaching the provider, owner checks,
and the 308 redirects of the seeds' old routes."""
import time
import unittest
import uuid

from harness import Llmux, Mock, http, wait_for

FAST = {
    "LLMUX_TASK_POLL_MIN_MS": "50",
    "LLMUX_TASK_POLL_MAX_MS": "200",
    "LLMUX_TASK_CLAIM_MS": "100",
    "LLMUX_TASK_POOL": "100",
}
MODEL = "demo/sora-2+duration_ms=300"


class MediaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=FAST)

    @classmethod
    def tearDownClass(cls):
        cls.lx.stop()
        cls.mock.stop()

    def wait_task(self, tid, statuses, timeout=20):
        out = {}

        def done():
            out["t"] = self.lx.req("GET", f"/api/v1/tasks/{tid}").json()
            return out["t"]["status"] in statuses
        wait_for(done, timeout=timeout, interval=0.05, what=f"{tid} in {statuses}")
        return out["t"]

    def test_native_video_to_content(self):
        tag = "native-" + uuid.uuid4().hex[:8]
        r = self.lx.req("POST", "/api/v1/media/videos",
                        body={"model": MODEL, "prompt": tag, "seconds": 4})
        self.assertEqual(r.status, 202, r)
        t = r.json()
        self.assertTrue(t["id"].startswith("task_"))
        self.assertIn(t["status"], ("queued", "submitting", "running"))
        self.assertEqual(t["links"]["self"], "/api/v1/tasks/" + t["id"])
        done = self.wait_task(t["id"], {"succeeded", "failed"})
        self.assertEqual(done["status"], "succeeded", done)
        self.assertEqual(done["progress"], 100)
        v = self.lx.req("GET", "/v1/videos/" + t["id"]).json()
        self.assertEqual(v["object"], "video")
        self.assertEqual(v["status"], "completed")
        self.assertEqual(v["prompt"], tag)
        c = self.lx.req("GET", f"/v1/videos/{t['id']}/content")
        self.assertEqual(c.status, 200, c)
        self.assertEqual(len(c.body), 32)
        rg = self.lx.req("GET", f"/v1/videos/{t['id']}/content", headers={"Range": "bytes=4-11"})
        self.assertEqual(rg.status, 206, rg)
        self.assertEqual(rg.body, c.body[4:12])
        self.assertTrue(rg.headers.get("content-range", "").startswith("bytes 4-11/32"), rg.headers)
        jobs = self.mock.jobs(tag)
        self.assertEqual(jobs["submissions"], 1, jobs)

    def test_openai_json_and_multipart(self):
        for form in (False, True):
            tag = "oai-" + uuid.uuid4().hex[:8]
            if form:
                b = "llmuxb" + uuid.uuid4().hex
                parts = "".join(f"--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                                for k, v in (("model", MODEL), ("prompt", tag), ("seconds", "4")))
                body = (parts + f"--{b}--\r\n").encode()
                r = self.lx.req("POST", "/v1/videos", body=body,
                                headers={"Content-Type": f"multipart/form-data; boundary={b}"})
            else:
                r = self.lx.req("POST", "/v1/videos",
                                body={"model": MODEL, "prompt": tag, "seconds": "4"})
            self.assertEqual(r.status, 200, r)
            v = r.json()
            self.assertEqual(v["object"], "video")
            self.assertEqual(v["status"], "queued")
            self.assertEqual(v["prompt"], tag)
            self.assertEqual(v["seconds"], "4")
            self.wait_task(v["id"], {"succeeded"})
            self.assertEqual(self.lx.req("GET", "/v1/videos/" + v["id"]).json()["status"],
                             "completed")
            lst = self.lx.req("GET", "/v1/videos?limit=100").json()
            self.assertEqual(lst["object"], "list")
            self.assertIn(v["id"], [x["id"] for x in lst["data"]])
            self.assertEqual(self.mock.jobs(tag)["submissions"], 1)

    def test_cancel_reaches_provider(self):
        tag = "cancel-" + uuid.uuid4().hex[:8]
        r = self.lx.req("POST", "/v1/videos",
                        body={"model": "demo/sora-2+outcome=stall", "prompt": tag})
        self.assertEqual(r.status, 200, r)
        vid = r.json()["id"]
        self.wait_task(vid, {"running"})
        d = self.lx.req("DELETE", "/v1/videos/" + vid)
        self.assertEqual(d.status, 200, d)
        self.assertEqual(d.json(), {"id": vid, "object": "video.deleted", "deleted": True})
        wait_for(lambda: self.mock.jobs(tag)["cancels"] == 1, timeout=10, what="provider cancel")
        self.assertEqual(self.lx.req("GET", f"/api/v1/tasks/{vid}").json()["status"], "cancelled")
        c = self.lx.req("GET", f"/v1/videos/{vid}/content")
        self.assertEqual(c.status, 404, c)

    def test_bad_input_and_unknown(self):
        r = self.lx.req("POST", "/api/v1/media/videos", body={"model": MODEL})
        self.assertEqual(r.status, 400, r)
        self.assertIn("prompt", r.json()["error"]["message"])
        r = self.lx.req("POST", "/v1/videos", body={"model": "nope/x", "prompt": "p"})
        self.assertEqual(r.status, 404, r)
        self.assertEqual(self.lx.req("GET", "/v1/videos/task_000").status, 404)
        self.assertEqual(self.lx.req("GET", "/v1/videos/task_000", key="wrong").status, 401)

    def test_old_routes_redirect(self):
        r = self.lx.req("POST", "/api/v1/ai/media/videos?x=1", body={"model": MODEL})
        self.assertEqual(r.status, 308, r)
        self.assertEqual(r.headers.get("location"), "/api/v1/media/videos?x=1")


if __name__ == "__main__":
    unittest.main()
