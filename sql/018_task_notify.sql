-- 018_task_notify: every change of a task's status or progress is announced
-- on the channel llmux_task with the task's public id as payload, in the
-- transaction of the UPDATE that made it (sent at its commit), whichever
-- statement made it (claim, running, progress, finish, cancel). Each llmux
-- worker with subscribers LISTENs and re-reads the row of that id at once
-- (src/task/sub.c); lease renewals change neither column and stay silent.
CREATE FUNCTION llmux_task_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('llmux_task', NEW.public_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER ai_tasks_notify AFTER UPDATE OF status, progress ON ai_tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.progress IS DISTINCT FROM NEW.progress)
    EXECUTE FUNCTION llmux_task_notify();
