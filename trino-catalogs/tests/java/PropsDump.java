import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Loads a .properties file the two ways airlift's ConfigurationLoader has done it (InputStream, i.e.
 * ISO-8859-1, and a UTF-8 Reader), fails if they disagree, and prints every pair as
 * hex(UTF-8 key) TAB hex(UTF-8 value), sorted by key: an encoding nothing in a value can confuse.
 * With a second argument "utf8-only" the readings may differ (files with raw non-ASCII bytes) and the UTF-8
 * one is printed.
 */
public class PropsDump {
    public static void main(String[] args) throws Exception {
        Properties latin1 = new Properties();
        try (InputStream in = new FileInputStream(args[0])) {
            latin1.load(in);
        }
        Properties utf8 = new Properties();
        try (Reader in = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) {
            utf8.load(in);
        }
        boolean bothMustAgree = args.length < 2 || !args[1].equals("utf8-only");
        if (bothMustAgree && !latin1.equals(utf8)) {
            System.err.println("ISO-8859-1 and UTF-8 readings differ");
            System.exit(2);
        }
        TreeMap<String, String> sorted = new TreeMap<>();
        for (String key : utf8.stringPropertyNames()) {
            sorted.put(key, utf8.getProperty(key));
        }
        StringBuilder out = new StringBuilder();
        for (var e : sorted.entrySet()) {
            out.append(hex(e.getKey())).append('\t').append(hex(e.getValue())).append('\n');
        }
        System.out.print(out);
    }

    private static String hex(String s) {
        StringBuilder b = new StringBuilder();
        for (byte x : s.getBytes(StandardCharsets.UTF_8)) {
            b.append(String.format("%02x", x & 0xff));
        }
        return b.toString();
    }
}
