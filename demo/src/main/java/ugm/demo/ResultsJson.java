package ugm.demo;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import ugm.demo.Results.Removal;
import ugm.demo.Results.RemovalPoint;
import ugm.demo.Results.Scores;
import ugm.demo.Results.SweepPoint;
import ugm.demo.Summary.Paired;
import ugm.demo.Summary.Stat;

/**
 * The results as JSON. At the top, the mean over the seeds (one seed: its results) in the shape
 * of issue 7 ({@code methods}, {@code target}, {@code sweep}) plus {@code tuned_lambda},
 * {@code base}, {@code task_models}, {@code removal} and {@code setup}; then {@code seeds},
 * {@code spread} (standard deviations across seeds), {@code paired} (method differences seed by
 * seed) and {@code runs} (each seed's results in the same shape).
 */
final class ResultsJson {

    private ResultsJson() {
    }

    static void write(Summary s, Path file) {
        try {
            Files.writeString(file, toJson(s) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    static String toJson(Summary s) {
        StringWriter text = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(text)) {
            g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeStringField("data", s.mean().setup().source().name());
            run(g, s.mean());
            g.writeArrayFieldStart("seeds");
            for (Results r : s.runs()) {
                g.writeNumber(r.setup().seed());
            }
            g.writeEndArray();
            g.writeObjectFieldStart("spread");
            g.writeObjectFieldStart("methods");
            for (String key : s.mean().methods().keySet()) {
                g.writeObjectFieldStart(key);
                g.writeNumberField("mean_accuracy_sd", s.accuracy(key).sd());
                g.writeNumberField("distance_to_target_sd", s.stat(r -> r.methods().get(key).distanceToTarget()).sd());
                g.writeNumberField("gradient_mismatch_sd", s.stat(r -> r.methods().get(key).gradientMismatch()).sd());
                g.writeEndObject();
            }
            g.writeEndObject();
            g.writeEndObject();
            g.writeArrayFieldStart("paired");
            for (Paired p : s.pairs()) {
                g.writeStartObject();
                g.writeStringField("a", p.a());
                g.writeStringField("b", p.b());
                stat(g, "mean_accuracy_difference", p.accuracy());
                g.writeNumberField("seeds_a_more_accurate", p.aMoreAccurate());
                stat(g, "distance_to_target_difference", p.distance());
                g.writeNumberField("seeds_a_closer", p.aCloser());
                stat(g, "gradient_mismatch_difference", p.mismatch());
                g.writeNumberField("seeds_a_smaller_mismatch", p.aSmallerMismatch());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("runs");
            for (Results r : s.runs()) {
                g.writeStartObject();
                run(g, r);
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString();
    }

    private static void run(JsonGenerator g, Results r) throws IOException {
        g.writeObjectFieldStart("methods");
        for (Map.Entry<String, Scores> e : r.methods().entrySet()) {
            g.writeFieldName(e.getKey());
            scores(g, e.getValue());
        }
        g.writeEndObject();
        g.writeObjectFieldStart("tuned_lambda");
        for (Map.Entry<String, Double> e : r.tunedLambda().entrySet()) {
            g.writeNumberField(e.getKey(), e.getValue());
        }
        g.writeEndObject();
        g.writeFieldName("target");
        scores(g, r.target());
        g.writeArrayFieldStart("sweep");
        for (SweepPoint p : r.sweep()) {
            g.writeStartObject();
            g.writeNumberField("lambda", p.lambda());
            g.writeFieldName("task_arithmetic");
            scores(g, p.taskArithmetic());
            g.writeFieldName("gradient_matching");
            scores(g, p.gradientMatching());
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeFieldName("base");
        scores(g, r.base());
        g.writeObjectFieldStart("task_models");
        array(g, "own_task_accuracy", r.taskModelOwnAccuracy());
        g.writeEndObject();
        removal(g, r);
        setup(g, r.setup());
    }

    private static void stat(JsonGenerator g, String name, Stat s) throws IOException {
        g.writeObjectFieldStart(name);
        g.writeNumberField("mean", s.mean());
        g.writeNumberField("sd", s.sd());
        g.writeEndObject();
    }

    private static void scores(JsonGenerator g, Scores s) throws IOException {
        g.writeStartObject();
        g.writeNumberField("mean_accuracy", s.meanAccuracy());
        g.writeNumberField("distance_to_target", s.distanceToTarget());
        array(g, "per_task_accuracy", s.perTaskAccuracy());
        g.writeNumberField("gradient_mismatch", s.gradientMismatch());
        g.writeNumberField("validation_accuracy", s.validationAccuracy());
        g.writeEndObject();
    }

    private static void removal(JsonGenerator g, Results r) throws IOException {
        g.writeObjectFieldStart("removal");
        g.writeNumberField("removed_task", Results.REMOVED + 1);
        g.writeNumberField("clamp", Experiment.CLAMP);
        g.writeNumberField("lambda", 1.0);
        g.writeObjectFieldStart("models");
        RemovalPoint one = r.removalAtOne();
        removed(g, r.removedBase());
        removed(g, one.taskArithmetic());
        removed(g, one.gradientMatching());
        g.writeEndObject();
        g.writeArrayFieldStart("sweep");
        for (RemovalPoint p : r.removal()) {
            g.writeStartObject();
            g.writeNumberField("lambda", p.lambda());
            g.writeObjectFieldStart("models");
            removed(g, p.taskArithmetic());
            removed(g, p.gradientMatching());
            g.writeEndObject();
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeEndObject();
    }

    private static void removed(JsonGenerator g, Removal x) throws IOException {
        g.writeObjectFieldStart(x.method());
        array(g, "per_task_accuracy", x.perTaskAccuracy());
        g.writeNumberField("other_tasks_accuracy", x.othersAccuracy());
        g.writeNumberField("pretraining_accuracy", x.pretrainAccuracy());
        g.writeNumberField("clamped_elements", x.clampedElements());
        g.writeNumberField("clamped_share_of_step", x.clampedShare());
        g.writeEndObject();
    }

    private static void setup(JsonGenerator g, Setup s) throws IOException {
        g.writeObjectFieldStart("setup");
        g.writeStringField("data", s.source().name());
        g.writeNumberField("seed", s.seed());
        g.writeNumberField("classes", s.classes());
        g.writeNumberField("features", s.features());
        g.writeNumberField("parameters", s.parameters());
        g.writeNumberField("pretraining_examples", s.pretrainSize());
        g.writeArrayFieldStart("task_names");
        for (String n : s.taskNames()) {
            g.writeString(n);
        }
        g.writeEndArray();
        g.writeArrayFieldStart("task_examples");
        for (int n : s.taskSizes()) {
            g.writeNumber(n);
        }
        g.writeEndArray();
        switch (s.source()) {
            case SyntheticData d -> {
                g.writeArrayFieldStart("task_classes");
                for (int t = 0; t < s.tasks(); t++) {
                    g.writeArray(d.taskClasses(s, t), 0, d.classesPerTask());
                }
                g.writeEndArray();
                g.writeNumberField("held_out_examples_per_task", d.taskTestSize());
                g.writeNumberField("validation_examples_per_task", d.validationSize());
            }
            case ImageData d -> {
                g.writeStringField("folder", d.dir().toString());
                g.writeNumberField("pool", d.pool());
                g.writeNumberField("held_out_examples_per_task", d.testSize());
                g.writeNumberField("validation_examples_per_task", d.validationSize());
            }
        }
        g.writeNumberField("delta0", s.weightDecay());
        g.writeStringField("fisher", s.fisher().name().toLowerCase(java.util.Locale.ROOT));
        array(g, "lambdas", s.lambdas());
        g.writeBooleanField("full_hessian", s.fullHessian());
        g.writeEndObject();
    }

    private static void array(JsonGenerator g, String name, double[] values) throws IOException {
        g.writeArrayFieldStart(name);
        for (double v : values) {
            g.writeNumber(v);
        }
        g.writeEndArray();
    }
}
