/**
 * A merge as a mergekit-style config describes it, from the inputs to a published model folder:
 * what {@code ugm merge} does ({@link ugm.job.MergeJob}), and the config parser
 * ({@link ugm.job.config.ConfigParser}).
 */
module ugm.job {
    requires transitive ugm.io;
    requires com.fasterxml.jackson.core;
    requires transitive com.fasterxml.jackson.databind;
    requires com.fasterxml.jackson.dataformat.yaml;
    requires org.yaml.snakeyaml;

    exports ugm.job;
    exports ugm.job.config;
}
