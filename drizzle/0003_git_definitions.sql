CREATE TABLE "spec_saves" (
	"pipeline_id" text NOT NULL,
	"request_id" text NOT NULL,
	"result" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "pipelines" ADD COLUMN "credentials_sealed" text;--> statement-breakpoint
ALTER TABLE "spec_saves" ADD CONSTRAINT "spec_saves_pipeline_id_pipelines_pipeline_id_fk" FOREIGN KEY ("pipeline_id") REFERENCES "public"."pipelines"("pipeline_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "spec_saves_request_idx" ON "spec_saves" USING btree ("pipeline_id","request_id");