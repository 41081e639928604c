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
import ugm.demo.Results.Scores;
import ugm.demo.Results.SweepPoint;

/**
 * The results as JSON: {@code methods}, {@code target} and {@code sweep} in the shape of issue 7,
 * plus {@code base}, {@code task_models}, {@code removal} and {@code setup}.
 */
final class ResultsJson {

    private ResultsJson() {
    }

    static void write(Results r, Path file) {
        try {
            Files.writeString(file, toJson(r) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    static String toJson(Results r) {
        StringWriter text = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(text)) {
            g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeObjectFieldStart("methods");
            for (Map.Entry<String, Scores> e : r.methods().entrySet()) {
                g.writeFieldName(e.getKey());
                scores(g, e.getValue());
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
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString();
    }

    private static void scores(JsonGenerator g, Scores s) throws IOException {
        g.writeStartObject();
        g.writeNumberField("mean_accuracy", s.meanAccuracy());
        g.writeNumberField("distance_to_target", s.distanceToTarget());
        array(g, "per_task_accuracy", s.perTaskAccuracy());
        g.writeNumberField("gradient_mismatch", s.gradientMismatch());
        g.writeEndObject();
    }

    private static void removal(JsonGenerator g, Results r) throws IOException {
        g.writeObjectFieldStart("removal");
        g.writeNumberField("removed_task", r.removal().get(0).removedTask() + 1);
        g.writeNumberField("lambda", 1.0);
        g.writeObjectFieldStart("models");
        for (Removal x : r.removal()) {
            g.writeObjectFieldStart(x.method());
            array(g, "per_task_accuracy", x.perTaskAccuracy());
            g.writeNumberField("pretraining_accuracy", x.pretrainAccuracy());
            g.writeNumberField("clamped_elements", x.clampedElements());
            g.writeEndObject();
        }
        g.writeEndObject();
        g.writeEndObject();
    }

    private static void setup(JsonGenerator g, Setup s) throws IOException {
        g.writeObjectFieldStart("setup");
        g.writeNumberField("seed", s.seed());
        g.writeNumberField("classes", s.classes());
        g.writeNumberField("features", s.features());
        g.writeNumberField("parameters", s.parameters());
        g.writeNumberField("pretraining_examples", s.pretrainSize());
        g.writeArrayFieldStart("task_examples");
        for (int n : s.taskSizes()) {
            g.writeNumber(n);
        }
        g.writeEndArray();
        g.writeArrayFieldStart("task_classes");
        for (int t = 0; t < s.tasks(); t++) {
            g.writeArray(s.taskClasses(t), 0, s.classesPerTask());
        }
        g.writeEndArray();
        g.writeNumberField("held_out_examples_per_task", s.taskTestSize());
        g.writeNumberField("delta0", s.weightDecay());
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
