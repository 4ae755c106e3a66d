CREATE TABLE "webhook_deliveries" (
	"pipeline_id" text NOT NULL,
	"delivery_id" text NOT NULL,
	"provider" text NOT NULL,
	"result" jsonb,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "pipelines" ADD COLUMN "webhook_secret_sealed" text;--> statement-breakpoint
ALTER TABLE "pipelines" ADD COLUMN "enabled" boolean DEFAULT true NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_idx" ON "webhook_deliveries" USING btree ("pipeline_id","delivery_id");