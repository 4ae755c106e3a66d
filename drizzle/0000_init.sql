CREATE TABLE "agents" (
	"agent_id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"task_queue" text,
	"status" text DEFAULT 'offline' NOT NULL,
	"running_jobs" integer DEFAULT 0 NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"token_id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"project_ids" jsonb,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "job_runs" (
	"job_run_id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"stage_index" integer NOT NULL,
	"stage_name" text NOT NULL,
	"job_index" integer NOT NULL,
	"job_key" text NOT NULL,
	"name" text NOT NULL,
	"matrix" jsonb,
	"status" text NOT NULL,
	"skipped" boolean DEFAULT false NOT NULL,
	"agent_id" text,
	"attempt" integer DEFAULT 0 NOT NULL,
	"reason" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "log_chunks" (
	"step_run_id" text NOT NULL,
	"first_line" integer NOT NULL,
	"last_line" integer NOT NULL,
	"lines" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipeline_revisions" (
	"revision_id" text PRIMARY KEY NOT NULL,
	"pipeline_id" text NOT NULL,
	"parent_revision_id" text,
	"spec" jsonb NOT NULL,
	"format" text DEFAULT 'yaml' NOT NULL,
	"commit_message" text DEFAULT '' NOT NULL,
	"editor" text DEFAULT '' NOT NULL,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipeline_runs" (
	"run_id" text PRIMARY KEY NOT NULL,
	"pipeline_id" text NOT NULL,
	"project_id" text NOT NULL,
	"number" integer NOT NULL,
	"status" text NOT NULL,
	"trigger_type" text NOT NULL,
	"triggered_by" text DEFAULT '' NOT NULL,
	"request_id" text,
	"variables" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ref" text,
	"commit_sha" text,
	"definition_commit_sha" text,
	"target" text,
	"reason" text,
	"workflow_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "pipelines" (
	"pipeline_id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"repo_url" text,
	"default_branch" text DEFAULT 'main' NOT NULL,
	"pipeline_file_path" text DEFAULT '.arcentra/pipeline.yaml' NOT NULL,
	"save_mode" text DEFAULT 'direct' NOT NULL,
	"pr_target_branch" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" text DEFAULT '' NOT NULL,
	"current_revision_id" text,
	"run_counter" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "step_runs" (
	"step_run_id" text PRIMARY KEY NOT NULL,
	"job_run_id" text NOT NULL,
	"run_id" text NOT NULL,
	"step_index" integer NOT NULL,
	"name" text NOT NULL,
	"status" text NOT NULL,
	"exit_code" integer,
	"attempt" integer DEFAULT 0 NOT NULL,
	"outputs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"reason" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "system_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "job_runs" ADD CONSTRAINT "job_runs_run_id_pipeline_runs_run_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."pipeline_runs"("run_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_revisions" ADD CONSTRAINT "pipeline_revisions_pipeline_id_pipelines_pipeline_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("pipeline_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_runs" ADD CONSTRAINT "pipeline_runs_pipeline_id_pipelines_pipeline_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("pipeline_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "step_runs" ADD CONSTRAINT "step_runs_job_run_id_job_runs_job_run_id_fk" FOREIGN KEY ("job_run_id") REFERENCES "public"."job_runs"("job_run_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash_idx" ON "api_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "job_runs_run_idx" ON "job_runs" USING btree ("run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "log_chunks_step_line_idx" ON "log_chunks" USING btree ("step_run_id","first_line");--> statement-breakpoint
CREATE INDEX "pipeline_revisions_pipeline_idx" ON "pipeline_revisions" USING btree ("pipeline_id");--> statement-breakpoint
CREATE UNIQUE INDEX "pipeline_revisions_request_idx" ON "pipeline_revisions" USING btree ("pipeline_id","request_id");--> statement-breakpoint
CREATE UNIQUE INDEX "pipeline_runs_number_idx" ON "pipeline_runs" USING btree ("pipeline_id","number");--> statement-breakpoint
CREATE UNIQUE INDEX "pipeline_runs_request_idx" ON "pipeline_runs" USING btree ("pipeline_id","request_id");--> statement-breakpoint
CREATE INDEX "pipeline_runs_status_idx" ON "pipeline_runs" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "pipelines_project_name_idx" ON "pipelines" USING btree ("project_id","name") WHERE "pipelines"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "step_runs_job_idx" ON "step_runs" USING btree ("job_run_id");--> statement-breakpoint
CREATE INDEX "step_runs_run_idx" ON "step_runs" USING btree ("run_id");