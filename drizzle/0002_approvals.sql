CREATE TABLE "approvals" (
	"approval_id" text PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"job_run_id" text,
	"gate" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"approvers" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"message" text DEFAULT '' NOT NULL,
	"decided_by" text,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"decided_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "approvals_run_idx" ON "approvals" USING btree ("run_id");