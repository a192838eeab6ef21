"""Media tasks through per-provider job settings (sql/017
ai_providers.settings.jobs): Runway and the generic adapter against the
mock, checked at the admin API; one usage row per finished media task
(the models' unit_cost_usd); images end to end; owner checks on /v1/videos."""
import json
import unittest
import uuid

from harness import Llmux, Mock, psql, wait_for

FAST = {
    "LLMUX_TASK_POLL_MIN_MS": "50",
    "LLMUX_TASK_POLL_MAX_MS": "200",
    "LLMUX_TASK_CLAIM_MS": "100",
    "LLMUX_TASK_POOL": "100",
}
ADMIN = "/api/v1/admin/ai"

GENERIC = {
    "submit": {"method": "POST", "path": "/videos",
               "body": {"model": "{model}", "prompt": "via generic: {prompt}",
                        "seconds": "{seconds}"}},
    "poll": {"method": "GET", "path": "/videos/{id}"},
    "cancel": {"method": "DELETE", "path": "/videos/{id}"},
    "content": {"method": "GET", "path": "/videos/{id}/content"},
    "job_id_path": "id",
    "status_path": "status",
    "states": {"queued": "queued", "in_progress": "running", "completed": "succeeded",
               "failed": "failed"},
    "progress_path": "progress",
    "error_path": "error.message",
    "error_code_path": "error.code",
}


class MediaProviders(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()
        cls.lx = Llmux(db=True, mock=cls.mock, env=FAST)
        cls.demo = cls.admin("GET", "/providers?name=demo")["data"][0]["id"]
        base = cls.mock.url + "/v1"
        cls.admin("POST", "/providers", {"name": "rw", "kind": "openai_compatible",
                                         "base_url": base,
                                         "settings": {"jobs": {"adapter": "runway"}}})
        cls.admin("POST", "/providers", {"name": "gen", "kind": "openai_compatible",
                                         "base_url": base,
                                         "settings": {"jobs": {"adapter": "generic",
                                                               "generic": GENERIC}}})
        for name, up, price in (("sora-priced", "sora-2+duration_ms=300", 0.1),
                                ("sora-failing", "sora-2+duration_ms=200+outcome=fail", 0.1),
                                ("img-priced", "gpt-image-1", 0.04)):
            cls.admin("POST", "/models", {"provider_id": cls.demo, "public_name": name,
                                          "upstream_name": up, "unit_cost_usd": price})

    @classmethod
    def tearDownClass(cls):
        cls.lx.stop()
        cls.mock.stop()

    @classmethod
    def admin(cls, method, path, body=None):
        r = cls.lx.req(method, ADMIN + path, body=body)
        assert r.status < 300, r
        return r.json()

    def key(self, name):
        k = self.lx.req("POST", ADMIN + "/keys", body={"name": name}).json()
        wait_for(lambda: self.lx.req("GET", "/v1/videos", key=k["key"]).status == 200,
                 what="key loaded")
        return k

    def submit(self, path, body, key=None, status=202):
        """Submits once the registry has the provider or model: a refused
        submit leaves no task, so retrying until accepted submits once."""
        out = {}
        kw = {"key": key} if key else {}

        def accepted():
            out["r"] = self.lx.req("POST", path, body=body, **kw)
            return out["r"].status != 404
        wait_for(accepted, timeout=5, interval=0.05, what=f"{body['model']} served")
        self.assertEqual(out["r"].status, status, out["r"])
        return out["r"].json()

    def wait_task(self, tid, statuses, timeout=20):
        out = {}

        def done():
            out["t"] = self.lx.req("GET", f"/api/v1/tasks/{tid}").json()
            return out["t"]["status"] in statuses
        wait_for(done, timeout=timeout, interval=0.05, what=f"{tid} in {statuses}")
        return out["t"]

    def usage(self, tid):
        rows = psql(self.lx.db, "SELECT coalesce(json_agg(json_build_object('feature', feature, "
                    "'cost', cost_usd::float8, 'status', status, 'error_code', error_code, "
                    "'api_key_id', api_key_id, 'provider', provider, 'model', model, "
                    "'requested_model', requested_model)), '[]') FROM ai_usage "
                    f"WHERE request_id = '{tid}'")
        return json.loads(rows)

    # ---- Runway ----

    def test_runway_video_to_content(self):
        tag = "rw-" + uuid.uuid4().hex[:8]
        t = self.submit("/api/v1/media/videos",
                        {"model": "rw/gen4_turbo+duration_ms=300", "prompt": tag, "seconds": 5})
        done = self.wait_task(t["id"], {"succeeded", "failed"})
        self.assertEqual(done["status"], "succeeded", done)
        jobs = self.mock.jobs(tag)
        self.assertEqual(jobs["submissions"], 1, jobs)
        self.assertEqual(jobs["jobs"][0]["api"], "runway", jobs)
        c = self.lx.req("GET", f"/v1/videos/{t['id']}/content")
        self.assertEqual(c.status, 200, c)
        self.assertEqual(len(c.body), 32)
        self.assertEqual(c.headers.get("content-type"), "video/mp4")
        self.assertGreaterEqual(self.mock.jobs(tag)["content_fetches"], 1)

    def test_runway_cancel_reaches_provider(self):
        tag = "rwc-" + uuid.uuid4().hex[:8]
        t = self.submit("/api/v1/media/videos",
                        {"model": "rw/gen4_turbo+outcome=stall", "prompt": tag})
        self.wait_task(t["id"], {"running"})
        d = self.lx.req("DELETE", "/v1/videos/" + t["id"])
        self.assertEqual(d.status, 200, d)
        wait_for(lambda: self.mock.jobs(tag)["cancels"] == 1, timeout=10, what="runway cancel")
        self.assertEqual(self.mock.jobs(tag)["jobs"][0]["status"], "CANCELLED")
        self.assertEqual(self.wait_task(t["id"], {"cancelled"})["status"], "cancelled")

    def test_runway_makes_no_images(self):
        out = {}

        def refused():
            out["r"] = self.lx.req("POST", "/api/v1/media/images",
                                   body={"model": "rw/gen4_image", "prompt": "p"})
            return "runway" in out["r"].body.decode()
        wait_for(refused, timeout=5, interval=0.05, what="rw loaded")
        self.assertEqual(out["r"].status, 404, out["r"])
        self.assertEqual(out["r"].json()["error"]["param"], "model")

    # ---- generic ----

    def test_generic_video_to_content(self):
        tag = "gen-" + uuid.uuid4().hex[:8]
        t = self.submit("/api/v1/media/videos",
                        {"model": "gen/sora-2+duration_ms=300", "prompt": tag, "seconds": 4})
        done = self.wait_task(t["id"], {"succeeded", "failed"})
        self.assertEqual(done["status"], "succeeded", done)
        # the body came from the generic adapter's template
        self.assertEqual(self.mock.jobs(tag)["count"], 0)
        jobs = self.mock.jobs("via generic: " + tag)
        self.assertEqual(jobs["submissions"], 1, jobs)
        self.assertEqual(jobs["jobs"][0]["api"], "openai", jobs)
        c = self.lx.req("GET", f"/v1/videos/{t['id']}/content")
        self.assertEqual(c.status, 200, c)
        self.assertEqual(len(c.body), 32)
        self.assertEqual(self.mock.jobs("via generic: " + tag)["content_fetches"], 1)

    def test_settings_are_checked(self):
        def bad(settings, word):
            r = self.lx.req("POST", ADMIN + "/providers",
                            body={"name": "bad-" + uuid.uuid4().hex[:6], "kind": "openai",
                                  "base_url": "http://127.0.0.1:9/v1", "settings": settings})
            self.assertEqual(r.status, 400, r)
            self.assertIn(word, r.json()["error"]["message"])
        bad({"jobs": {"adapter": "pika"}}, "settings.jobs.adapter")
        bad({"jobs": {"adapter": "generic"}}, "settings.jobs.generic")
        g = dict(GENERIC)
        del g["poll"]
        bad({"jobs": {"adapter": "generic", "generic": g}}, "settings.jobs.generic.poll")
        g = dict(GENERIC, states={"done": "finished"})
        bad({"jobs": {"adapter": "generic", "generic": g}}, "settings.jobs.generic.states")
        bad({"jobs": {"adapter": "runway", "generic": GENERIC}}, "settings.jobs.generic")
        bad({"video": {}}, "unknown setting 'video'")
        bad([], "settings")
        p = self.admin("GET", "/providers?name=gen")["data"][0]
        self.assertEqual(p["settings"]["jobs"]["adapter"], "generic")

    # ---- usage rows ----

    def test_finished_video_leaves_one_priced_usage_row(self):
        k = self.key("usage-video")
        tag = "usage-" + uuid.uuid4().hex[:8]
        t = self.submit("/api/v1/media/videos",
                        {"model": "sora-priced", "prompt": tag, "seconds": 4}, key=k["key"])
        self.assertEqual(self.wait_task(t["id"], {"succeeded", "failed"})["status"], "succeeded")
        rows = self.usage(t["id"])
        self.assertEqual(len(rows), 1, rows)
        r = rows[0]
        self.assertEqual(r["feature"], "video")
        self.assertAlmostEqual(r["cost"], 0.4, places=6)
        self.assertEqual(r["status"], 200)
        self.assertIsNone(r["error_code"])
        self.assertEqual(r["api_key_id"], k["id"])
        self.assertEqual((r["provider"], r["model"], r["requested_model"]),
                         ("demo", "sora-2+duration_ms=300", "sora-priced"))

    def test_failed_video_leaves_one_free_usage_row(self):
        k = self.key("usage-failed")
        t = self.submit("/api/v1/media/videos",
                        {"model": "demo/sora-failing", "prompt": "fail", "seconds": 8},
                        key=k["key"])
        done = self.wait_task(t["id"], {"succeeded", "failed"})
        self.assertEqual(done["status"], "failed", done)
        rows = self.usage(t["id"])
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["cost"], 0)
        self.assertEqual(rows[0]["error_code"], done["error"]["code"])
        self.assertEqual(rows[0]["api_key_id"], k["id"])
        self.assertEqual(rows[0]["status"], 502)

    def test_cancelled_video_leaves_one_usage_row(self):
        t = self.submit("/api/v1/media/videos",
                        {"model": "demo/sora-2+outcome=stall", "prompt": "c"})
        self.wait_task(t["id"], {"running"})
        self.assertEqual(self.lx.req("DELETE", "/v1/videos/" + t["id"]).status, 200)
        self.wait_task(t["id"], {"cancelled"})
        rows = self.usage(t["id"])
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual((rows[0]["cost"], rows[0]["status"]), (0, 499))

    # ---- images ----

    def test_image_task_end_to_end(self):
        k = self.key("usage-image")
        t = self.submit("/api/v1/media/images",
                        {"model": "img-priced", "prompt": "a red square", "n": 2}, key=k["key"])
        done = self.wait_task(t["id"], {"succeeded", "failed"})
        self.assertEqual(done["status"], "succeeded", done)
        got = self.lx.req("GET", f"/api/v1/tasks/{t['id']}", key=k["key"]).json()
        self.assertEqual(len(got["output"]["images"]), 2, got)
        self.assertTrue(got["output"]["urls"][0].startswith(self.mock.url), got)
        rows = self.usage(t["id"])
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["feature"], "image")
        self.assertAlmostEqual(rows[0]["cost"], 0.08, places=6)

    # ---- owners ----

    def test_other_key_gets_404_on_a_video(self):
        a, b = self.key("owner-a"), self.key("owner-b")
        t = self.submit("/api/v1/media/videos",
                        {"model": "demo/sora-2+duration_ms=200", "prompt": "mine"}, key=a["key"])
        self.wait_task(t["id"], {"succeeded"})
        vid = t["id"]
        self.assertEqual(self.lx.req("GET", f"/v1/videos/{vid}", key=a["key"]).status, 200)
        for method, path in (("GET", f"/v1/videos/{vid}"), ("GET", f"/v1/videos/{vid}/content"),
                             ("DELETE", f"/v1/videos/{vid}")):
            r = self.lx.req(method, path, key=b["key"])
            self.assertEqual(r.status, 404, (method, path, r))
            self.assertIn("error", r.json())
        lst = self.lx.req("GET", "/v1/videos", key=b["key"]).json()
        self.assertNotIn(vid, [x["id"] for x in lst["data"]])
        self.assertEqual(self.lx.req("GET", f"/v1/videos/{vid}/content", key=a["key"]).status, 200)
        self.assertEqual(self.wait_task(vid, {"succeeded"})["status"], "succeeded")


if __name__ == "__main__":
    unittest.main()
